using System.Globalization;
using System.Net;
using System.Text;

namespace WebhookConnect.EchoTarget;

/// <summary>
/// Prints what arrived (the X-Webhook-* headers and the start of the body), so a developer sees each delivery without
/// writing a processor first. It answers 200 until told otherwise: <c>PUT /status</c> with a status code as the body
/// (<c>curl -X PUT -d 500 127.0.0.1:8099/status</c>) makes every later delivery get that status, so the README's
/// walkthrough can break the target and watch retries and dead letters; <c>-d 200</c> fixes it again.
/// </summary>
public static class Echo
{
    private const int BodyExcerpt = 300;

    public static WebApplication Build(int port, TextWriter output)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Only our lines: the terminal and the dashboard show one line per delivery, nothing else.
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var status = StatusCodes.Status200OK;
        var gate = new Lock();

        void Print(string line)
        {
            lock (gate)
            {
                output.WriteLine(line);
                output.Flush();
            }
        }

        // Terminal middleware only (no routing): WebApplication runs mapped endpoints after app.Run's handler.
        async Task SetStatusAsync(HttpContext http)
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            var text = (await reader.ReadToEndAsync(http.RequestAborted)).Trim();
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code is < 200 or > 599)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                await http.Response.WriteAsync($"the body must be an HTTP status code between 200 and 599, got '{text}'\n", http.RequestAborted);
                return;
            }

            Volatile.Write(ref status, code);
            Print($"answering {code} to every delivery from now on");
            await http.Response.WriteAsync($"answering {code}\n", http.RequestAborted);
        }

        app.Run(async http =>
        {
            // The AppHost's readiness check; not a delivery.
            if (HttpMethods.IsGet(http.Request.Method) && http.Request.Path == "/healthz")
            {
                await http.Response.WriteAsync("ok\n", http.RequestAborted);
                return;
            }

            if (HttpMethods.IsPut(http.Request.Method) && http.Request.Path == "/status")
            {
                await SetStatusAsync(http);
                return;
            }

            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body, http.RequestAborted);
            var headers = http.Request.Headers;
            var answer = Volatile.Read(ref status);
            var text = Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)Math.Min(body.Length, BodyExcerpt)).ReplaceLineEndings(" ");
            Print($"{http.Request.Method} {http.Request.Path} channel={headers["X-Webhook-Channel"]} endpoint={headers["X-Webhook-Endpoint"]} " +
                $"message_id={headers["X-Webhook-Message-Id"]} attempt={headers["X-Webhook-Attempt"]} {body.Length} bytes: {text}{(body.Length > BodyExcerpt ? "…" : "")}" +
                (answer == StatusCodes.Status200OK ? "" : $" → answered {answer}"));
            http.Response.StatusCode = answer;
        });
        return app;
    }
}
