using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using WebhookConnect.ServiceDefaults.Tests.Support;

namespace WebhookConnect.ServiceDefaults.Tests;

public sealed class OptionsValidationTests
{
    public sealed class SampleOptions : IValidatableObject
    {
        [Range(1, 16777216)]
        public int MaxMessageBytes { get; set; } = 1024;

        [Required]
        public string? Name { get; set; } = "default-name";

        public TimeSpan MinDelay { get; set; } = TimeSpan.FromSeconds(1);

        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

        [DataType(DataType.Password)]
        [MinLength(16)]
        public string Token { get; set; } = "0123456789abcdef";

        public NestedOptions Retry { get; set; } = new();

        public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
        {
            if (MinDelay > MaxDelay)
            {
                yield return new ValidationResult("MinDelay must not exceed MaxDelay.", [nameof(MinDelay), nameof(MaxDelay)]);
            }
        }
    }

    public sealed class NestedOptions
    {
        [Range(1, 100)]
        public int MaxAttempts { get; set; } = 5;
    }

    private static Task<TestApp> StartWith(params (string Key, string? Value)[] settings) =>
        TestApp.StartAsync(
            settings.ToDictionary(s => s.Key, s => s.Value),
            builder => builder.Services.AddValidatedOptions<SampleOptions>(builder.Configuration, "Sample"));

    private static async Task<string> StartupFailure(params (string Key, string? Value)[] settings)
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => StartWith(settings));
        return ex.Message;
    }

    [Fact]
    public async Task OutOfRangeValueFailsStartNamingKeyValueAndReason()
    {
        var message = await StartupFailure(("Sample:MaxMessageBytes", "-5"));

        Assert.Equal("Invalid configuration: Sample:MaxMessageBytes = '-5': must be between 1 and 16777216.", message);
    }

    [Fact]
    public async Task NonNumericValueForIntFailsStartNamingKeyAndValue()
    {
        var message = await StartupFailure(("Sample:MaxMessageBytes", "abc"));

        Assert.Equal("Invalid configuration: Sample:MaxMessageBytes = 'abc': cannot be converted to Int32.", message);
    }

    [Fact]
    public async Task EmptyRequiredValueIsNamed()
    {
        var message = await StartupFailure(("Sample:Name", ""));

        Assert.Equal("Invalid configuration: Sample:Name = '': is required.", message);
    }

    [Fact]
    public async Task CrossFieldRuleNamesEveryKeyItInvolves()
    {
        var message = await StartupFailure(("Sample:MinDelay", "00:01:00"), ("Sample:MaxDelay", "00:00:10"));

        Assert.Equal(
            "Invalid configuration: Sample:MinDelay = '00:01:00', Sample:MaxDelay = '00:00:10': MinDelay must not exceed MaxDelay.",
            message);
    }

    [Fact]
    public async Task NestedKeyIsNamedWithItsFullPath()
    {
        var message = await StartupFailure(("Sample:Retry:MaxAttempts", "0"));

        Assert.Equal("Invalid configuration: Sample:Retry:MaxAttempts = '0': must be between 1 and 100.", message);
    }

    [Fact]
    public async Task SecretValueIsMaskedInTheFailure()
    {
        var message = await StartupFailure(("Sample:Token", "hunter2"));

        Assert.Equal(
            "Invalid configuration: Sample:Token = '***': must be a string or array type with a minimum length of '16'.",
            message);
        Assert.DoesNotContain("hunter2", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryInvalidKeyIsReportedAtOnce()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            StartWith(("Sample:MaxMessageBytes", "0"), ("Sample:Retry:MaxAttempts", "101")));

        Assert.Equal(
            [
                "Invalid configuration: Sample:MaxMessageBytes = '0': must be between 1 and 16777216.",
                "Invalid configuration: Sample:Retry:MaxAttempts = '101': must be between 1 and 100.",
            ],
            ex.Failures);
    }

    [Fact]
    public async Task ValidConfigurationBindsOverDefaults()
    {
        await using var app = await StartWith(
            ("Sample:MaxMessageBytes", "2048"), ("Sample:MinDelay", "00:00:02"), ("Sample:Retry:MaxAttempts", "9"));

        var options = app.Services.GetRequiredService<IOptions<SampleOptions>>().Value;
        Assert.Equal(2048, options.MaxMessageBytes);
        Assert.Equal(TimeSpan.FromSeconds(2), options.MinDelay);
        Assert.Equal(TimeSpan.FromSeconds(30), options.MaxDelay);
        Assert.Equal("default-name", options.Name);
        Assert.Equal(9, options.Retry.MaxAttempts);
    }

    [Fact]
    public async Task InvalidManagementPortFailsStart()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestApp.StartAsync(new Dictionary<string, string?> { ["Management:Port"] = "70000" }));

        Assert.Equal("Invalid configuration: Management:Port = '70000': must be between 1 and 65535.", ex.Message);
    }

    [Fact]
    public async Task InvalidManagementHostFailsStart()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestApp.StartAsync(new Dictionary<string, string?> { ["Management:Host"] = "not an address" }));

        Assert.Equal("Invalid configuration: Management:Host = 'not an address': must be an IP address, 'localhost' or '*'.", ex.Message);
    }
}
