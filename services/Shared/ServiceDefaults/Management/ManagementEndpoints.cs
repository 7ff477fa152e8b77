using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using WebhookConnect.ServiceDefaults.Tls;

namespace WebhookConnect.ServiceDefaults.Management;

/// <summary>The management listener and the endpoints served only on it.</summary>
internal static class ManagementEndpoints
{
    public const string HealthPath = "/healthz";
    public const string ReadyPath = "/readyz";
    public const string MetricsPath = "/metrics";

    public static bool IsManagementPath(string path) => path is HealthPath or ReadyPath or MetricsPath;

    /// <summary>Adds the management endpoint next to whatever else the service listens on.</summary>
    public static void Listen(KestrelServerOptions kestrel, ManagementOptions options)
    {
        void Http1(ListenOptions listen)
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.UseTls(options.Tls, "management");
        }

        switch (options.Host)
        {
            case "*":
                kestrel.ListenAnyIP(options.Port, Http1);
                break;
            case var host when host.Equals("localhost", StringComparison.OrdinalIgnoreCase):
                kestrel.ListenLocalhost(options.Port, Http1);
                break;
            default:
                kestrel.Listen(IPAddress.Parse(options.Host), options.Port, Http1);
                break;
        }
    }

    public static void Map(IEndpointRouteBuilder endpoints, int port)
    {
        // RequireHost routes by the Host header; the handlers also check the socket's local port, because a
        // client of the traffic port can send any Host header it likes.
        var group = endpoints.MapGroup("").RequireHost($"*:{port}").ExcludeFromDescription();
        group.MapGet(HealthPath, context => WriteHealthAsync(context, port, HealthCheckTags.Live));
        group.MapGet(ReadyPath, context => WriteHealthAsync(context, port, HealthCheckTags.Ready));
        group.MapPrometheusScrapingEndpoint(MetricsPath, meterProvider: null, configureBranchedPipeline: branch => branch.Use((context, next) =>
        {
            if (!IsManagementConnection(context, port))
            {
                return Task.CompletedTask;
            }

            context.Response.Headers.CacheControl = "no-store";
            return next(context);
        }), optionsName: null).WithMetadata(new HttpMethodMetadata([HttpMethods.Get]));
    }

    private static async Task WriteHealthAsync(HttpContext context, int port, string tag)
    {
        if (!IsManagementConnection(context, port))
        {
            return;
        }

        var health = context.RequestServices.GetRequiredService<HealthCheckService>();
        var report = await health.CheckHealthAsync(registration => registration.Tags.Contains(tag), context.RequestAborted);

        // Degraded counts as not ready: a probe has two answers, and "impaired" is the cautious one.
        var healthy = report.Status == HealthStatus.Healthy;
        var body = new StringBuilder(report.Status.ToString()).Append('\n');
        foreach (var (name, entry) in report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            body.Append(name).Append(": ").Append(entry.Status);
            var detail = entry.Description ?? entry.Exception?.Message;
            if (!string.IsNullOrEmpty(detail))
            {
                body.Append(": ").Append(detail.ReplaceLineEndings(" "));
            }

            body.Append('\n');
        }

        context.Response.StatusCode = healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync(healthy ? "Healthy" : body.ToString(), context.RequestAborted);
    }

    private static bool IsManagementConnection(HttpContext context, int port)
    {
        if (context.Connection.LocalPort == port)
        {
            return true;
        }

        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return false;
    }

    public static int Port(IServiceProvider services) => services.GetRequiredService<IOptions<ManagementOptions>>().Value.Port;
}
