using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

using WebhookConnect.TestKit;

namespace WebhookConnect.ServiceDefaults.Tests.Support;

/// <summary>A real service host on Kestrel, built the way a service's Program.cs builds it.</summary>
internal sealed class TestApp : IAsyncDisposable
{
    private TestApp(WebApplication app, int managementPort)
    {
        App = app;
        ManagementPort = managementPort;
        Management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public WebApplication App { get; }

    public IServiceProvider Services => App.Services;

    public int ManagementPort { get; }

    /// <summary>A client of the management port.</summary>
    public HttpClient Management { get; }

    public static async Task<TestApp> StartAsync(
        IDictionary<string, string?>? configuration = null,
        Action<WebApplicationBuilder>? configureBuilder = null,
        Action<WebApplication>? configureApp = null,
        ServiceDefaultsSettings? settings = null)
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production", Args = [] });
        var defaults = new Dictionary<string, string?>
        {
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
            // Whatever the machine's environment says, tests opt in to OTLP explicitly.
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
        };
        foreach (var (key, value) in configuration ?? new Dictionary<string, string?>())
        {
            // null means "leave the key out", which is not the same as a key whose value is null.
            if (value is null)
            {
                defaults.Remove(key);
            }
            else
            {
                defaults[key] = value;
            }
        }

        builder.Configuration.AddInMemoryCollection(defaults);
        builder.AddServiceDefaults(settings ?? new ServiceDefaultsSettings("test-service", port));
        configureBuilder?.Invoke(builder);

        var app = builder.Build();
        try
        {
            app.MapServiceDefaults();
            configureApp?.Invoke(app);
            await app.StartAsync(TestContext.Current.CancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var expectedPort = defaults.TryGetValue("Management:Port", out var configured)
            ? int.Parse(configured!, System.Globalization.CultureInfo.InvariantCulture)
            : settings!.DefaultManagementPort;
        return new TestApp(app, expectedPort);
    }

    public async ValueTask DisposeAsync()
    {
        Management.Dispose();
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
    }
}
