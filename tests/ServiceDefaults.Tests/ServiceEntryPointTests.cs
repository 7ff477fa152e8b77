using Microsoft.Extensions.Options;

namespace WebhookConnect.ServiceDefaults.Tests;

public sealed class ServiceEntryPointTests
{
    [Fact]
    public void ConfigurationErrorsPrintOneLineEachAndExitWithCodeTwo()
    {
        using var error = new StringWriter();

        var exitCode = ServiceEntryPoint.Run(
            () => throw new OptionsValidationException("", typeof(object), ["Invalid configuration: A:B = 'x': bad.", "Invalid configuration: A:C = 'y': worse."]),
            error);

        Assert.Equal(2, exitCode);
        Assert.Equal($"Invalid configuration: A:B = 'x': bad.{Environment.NewLine}Invalid configuration: A:C = 'y': worse.{Environment.NewLine}", error.ToString());
    }

    [Fact]
    public void ANormalRunExitsWithZeroAndOtherFailuresStayLoud()
    {
        var ran = false;

        Assert.Equal(0, ServiceEntryPoint.Run(() => ran = true));
        Assert.True(ran);
        Assert.Throws<InvalidOperationException>(() => ServiceEntryPoint.Run(() => throw new InvalidOperationException("not a configuration error")));
    }
}
