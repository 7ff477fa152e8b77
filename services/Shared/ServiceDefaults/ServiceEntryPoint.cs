using Microsoft.Extensions.Options;

namespace WebhookConnect.ServiceDefaults;

/// <summary>
/// Wraps a service's <c>Main</c> so that a configuration error ends the process the way operators expect: one
/// line per bad setting on stderr (<c>Invalid configuration: Section:Key = 'value': reason</c>), no stack trace,
/// and exit code 2, the conventional code for bad usage.
/// </summary>
public static class ServiceEntryPoint
{
    public const int ConfigurationErrorExitCode = 2;

    public static int Run(Action main, TextWriter? error = null)
    {
        ArgumentNullException.ThrowIfNull(main);
        try
        {
            main();
            return 0;
        }
        catch (OptionsValidationException ex)
        {
            var writer = error ?? Console.Error;
            foreach (var failure in ex.Failures)
            {
                writer.WriteLine(failure);
            }

            return ConfigurationErrorExitCode;
        }
    }
}
