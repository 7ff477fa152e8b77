using System.Text;
using Grpc.Core;
using WebhookConnect.Admin.Authentication;
using WebhookConnect.Contracts.Admin.V1;
using QueueAdminClient = WebhookConnect.Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient;

namespace WebhookConnect.Admin.Api;

/// <summary>
/// The twin of TailChannel: <c>GET …/channels/{channel}/tail?include_body=</c> answers NDJSON
/// (<c>application/x-ndjson</c>), one TailChannelResponse in the twin's JSON per line, each line flushed as its event
/// arrives, for as long as the client stays. The status line waits for the first event (STARTED), so a refusal or an
/// unknown channel is still an ordinary error answer (401, 403, 404) with the twin's error body; a status that ends
/// the stream later (RESOURCE_EXHAUSTED for a client that reads too slowly, UNAVAILABLE) becomes one last line
/// <c>{"error": {…}}</c>, the same error object, since HTTP/1.1 has no trailers a curl user would see.
/// </summary>
public static class TwinTail
{
    public const string ContentType = "application/x-ndjson";

    private const string Method = "TailChannel";

    private static readonly byte[] NewLine = "\n"u8.ToArray();

    public static void Map(RouteGroupBuilder api) =>
        api.MapGet("/channels/{channel}/tail", TailAsync);

    private static async Task TailAsync(HttpContext http, AdminAuthentication authentication, AdminForwarder forwarder, QueueAdminClient queue)
    {
        var request = new TailChannelRequest { Channel = JsonTwin.Path(http, "channel"), IncludeBody = JsonTwin.Flag(http, "include_body") };
        var caller = authentication.Authenticate(http, Method, request.Channel, out var unauthenticated);
        if (caller is null)
        {
            await TwinErrors.Result(unauthenticated).ExecuteAsync(http);
            return;
        }

        if (authentication.Authorize(caller, Method, request) is { } refusal)
        {
            await TwinErrors.Result(refusal).ExecuteAsync(http);
            return;
        }

        var started = false;
        try
        {
            await forwarder.ForwardStreamAsync<TailChannelResponse>(http, DateTime.MaxValue, http.RequestAborted, Method, request, options => queue.TailChannel(request, options), async (response, _) =>
            {
                if (!started)
                {
                    started = true;
                    http.Response.StatusCode = StatusCodes.Status200OK;
                    http.Response.ContentType = ContentType;
                    // No proxy buffering (nginx honours this header): a tail line is worth nothing late.
                    http.Response.Headers["X-Accel-Buffering"] = "no";
                    http.Response.Headers.CacheControl = "no-store";
                }

                await WriteLineAsync(http, TwinJson.Format(response));
            });
        }
        catch (RpcException ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            if (!started)
            {
                await TwinErrors.Result(ex.Status).ExecuteAsync(http);
                return;
            }

            await WriteLineAsync(http, TwinErrors.Json(ex.Status));
        }
        catch (Exception ex) when ((ex is RpcException or OperationCanceledException or IOException) && http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; the upstream call was cancelled with it.
        }
    }

    private static async Task WriteLineAsync(HttpContext http, string json)
    {
        var body = http.Response.Body;
        await body.WriteAsync(Encoding.UTF8.GetBytes(json), http.RequestAborted);
        await body.WriteAsync(NewLine, http.RequestAborted);
        await body.FlushAsync(http.RequestAborted);
    }
}
