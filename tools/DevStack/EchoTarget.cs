using System.Text;

namespace WebhookConnect.DevStack;

/// <summary>
/// The demo connector's target: answers 200 to every request and prints what arrived (the X-Webhook-* headers and
/// the start of the body), so a developer sees each delivery without writing a processor first.
/// </summary>
public static class EchoTarget
{
    private const int BodyExcerpt = 300;

    public static async Task<WebApplication> StartAsync(int port, Output output)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, port));
        var app = builder.Build();
        app.Run(async http =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body, http.RequestAborted);
            var headers = http.Request.Headers;
            var text = Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)Math.Min(body.Length, BodyExcerpt)).ReplaceLineEndings(" ");
            output.Line("echo", $"{http.Request.Method} {http.Request.Path} channel={headers["X-Webhook-Channel"]} endpoint={headers["X-Webhook-Endpoint"]} " +
                $"message_id={headers["X-Webhook-Message-Id"]} attempt={headers["X-Webhook-Attempt"]} {body.Length} bytes: {text}{(body.Length > BodyExcerpt ? "…" : "")}");
            http.Response.StatusCode = StatusCodes.Status200OK;
        });
        await app.StartAsync();
        return app;
    }
}
