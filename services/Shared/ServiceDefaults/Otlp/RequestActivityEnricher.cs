using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;

namespace WebhookConnect.ServiceDefaults.Otlp;

/// <summary>
/// Completes ASP.NET Core's request span with what only the end of the request knows: route, status code and
/// error. ASP.NET Core 10 adds just the request-time tags (method, path, server) natively; the rest used to come
/// from OpenTelemetry.Instrumentation.AspNetCore, which we cannot restore. Runs as a startup filter so it wraps
/// the whole pipeline whatever middleware a service adds.
/// </summary>
internal sealed class RequestActivityEnricher : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(static async (context, nextMiddleware) =>
        {
            try
            {
                await nextMiddleware(context);
            }
            catch (Exception ex)
            {
                Enrich(context, ex);
                throw;
            }

            Enrich(context, null);
        });
        next(app);
    };

    private static void Enrich(HttpContext context, Exception? exception)
    {
        if (context.Features.Get<IHttpActivityFeature>()?.Activity is not { IsAllDataRequested: true } activity)
        {
            return;
        }

        // An exception escaping the pipeline becomes a 500 in the server, after we have seen it.
        var status = exception is null ? context.Response.StatusCode : StatusCodes.Status500InternalServerError;
        activity.SetTag("http.response.status_code", status);
        activity.SetTag("network.protocol.version", context.Request.Protocol switch
        {
            "HTTP/1.0" => "1.0",
            "HTTP/1.1" => "1.1",
            "HTTP/2" => "2",
            "HTTP/3" => "3",
            var other => other,
        });

        var endpoint = context.GetEndpoint();
        var route = endpoint?.Metadata.GetMetadata<IRouteDiagnosticsMetadata>()?.Route ?? (endpoint as RouteEndpoint)?.RoutePattern.RawText;
        if (!string.IsNullOrEmpty(route))
        {
            activity.SetTag("http.route", route);
            activity.DisplayName = $"{context.Request.Method} {route}";
        }
        else
        {
            // OpenTelemetry's HTTP span naming: without a low-cardinality route, the method alone.
            activity.DisplayName = context.Request.Method;
        }

        if (exception is not null)
        {
            activity.SetTag("error.type", exception.GetType().FullName);
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        }
        else if (status >= 500)
        {
            activity.SetTag("error.type", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            activity.SetStatus(ActivityStatusCode.Error);
        }
    }
}
