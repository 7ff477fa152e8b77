using System.Text.Json;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests.Support;

/// <summary>One span as the dashboard's telemetry API returns it (OTLP JSON), with the service that sent it.</summary>
public sealed record DashboardSpan(string Service, string Name, int Kind, string TraceId, string SpanId, string ParentSpanId, IReadOnlyDictionary<string, string> Attributes)
{
    // OTLP's SpanKind numbers.
    public const int Internal = 1;
    public const int Server = 2;
    public const int Client = 3;
    public const int Producer = 4;
    public const int Consumer = 5;

    public override string ToString() => $"{Service}: {Name} (kind {Kind}, span {SpanId}, parent {ParentSpanId})";
}

/// <summary>
/// Reads what the services exported to the Aspire dashboard through its telemetry HTTP API
/// (<c>GET /api/telemetry/traces/{traceId}</c>, OTLP JSON, <c>X-API-Key</c>), the data behind its Traces page.
/// </summary>
public static class DashboardTelemetry
{
    public static async Task<List<DashboardSpan>> WaitForTraceAsync(HttpClient http, LocalStack stack, string traceId, Func<List<DashboardSpan>, bool> complete, TimeSpan patience)
    {
        var spans = new List<DashboardSpan>();
        var last = "";
        try
        {
            await Eventually.UntilAsync(
                async () =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, stack.Url("DASHBOARD_PORT", $"/api/telemetry/traces/{traceId}"));
                    request.Headers.Add("X-API-Key", stack.DashboardApiKey);
                    using var response = await http.SendAsync(request);
                    last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                    if (!response.IsSuccessStatusCode)
                    {
                        return false;
                    }

                    spans = Parse(JsonDocument.Parse(last[4..]).RootElement);
                    return complete(spans);
                },
                patience,
                $"the dashboard to hold every span of trace {traceId}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; spans found: {string.Join("; ", spans)}; last answer: {last[..Math.Min(last.Length, 2000)]}", ex);
        }

        return spans;
    }

    private static List<DashboardSpan> Parse(JsonElement answer)
    {
        var spans = new List<DashboardSpan>();
        foreach (var resourceSpans in answer.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            var service = resourceSpans.TryGetProperty("resource", out var resource) ? Attributes(resource).GetValueOrDefault("service.name", "") : "";
            foreach (var scopeSpans in resourceSpans.GetProperty("scopeSpans").EnumerateArray())
            {
                foreach (var span in scopeSpans.GetProperty("spans").EnumerateArray())
                {
                    spans.Add(new DashboardSpan(
                        service,
                        span.GetProperty("name").GetString() ?? "",
                        span.TryGetProperty("kind", out var kind) ? kind.GetInt32() : 0,
                        (span.GetProperty("traceId").GetString() ?? "").ToLowerInvariant(),
                        (span.GetProperty("spanId").GetString() ?? "").ToLowerInvariant(),
                        (span.TryGetProperty("parentSpanId", out var parent) ? parent.GetString() ?? "" : "").ToLowerInvariant(),
                        Attributes(span)));
                }
            }
        }

        return spans;
    }

    private static Dictionary<string, string> Attributes(JsonElement owner)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        if (owner.TryGetProperty("attributes", out var list))
        {
            foreach (var attribute in list.EnumerateArray())
            {
                var value = attribute.GetProperty("value");
                attributes[attribute.GetProperty("key").GetString() ?? ""] = value.EnumerateObject().FirstOrDefault().Value.ToString();
            }
        }

        return attributes;
    }
}
