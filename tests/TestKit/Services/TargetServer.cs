using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace WebhookConnect.TestKit.Services;

/// <summary>One request as a target received it. Header values are the bytes on the wire (read as Latin-1).</summary>
public sealed record ReceivedRequest(string Method, string Path, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body, DateTimeOffset At)
{
    public string? Header(string name) => Headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();

    public IEnumerable<string> HeaderValues(string name) => Headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value);

    public string MessageId => Header("X-Webhook-Message-Id") ?? "";

    public int Attempt => int.Parse(Header("X-Webhook-Attempt") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>What a target answers: a status, a body, and an optional delay before answering.</summary>
public sealed record TargetAnswer(int Status, string Body = "", TimeSpan Delay = default);

/// <summary>A real Kestrel HTTP/1.1 target on 127.0.0.1 that records every request and answers as told.</summary>
public sealed class TargetServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedRequest> _requests = new();
    private int _active;
    private int _maxActive;
    private int _disposed;

    private TargetServer(WebApplication app) => _app = app;

    public int Port { get; private set; }

    public string Url(string path = "/hook") => $"http://127.0.0.1:{Port}{path}";

    /// <summary>Decides the answer per request; 200 by default.</summary>
    public Func<ReceivedRequest, TargetAnswer> Answer { get; set; } = _ => new TargetAnswer(200);

    public IReadOnlyList<ReceivedRequest> Requests => [.. _requests];

    public int Count => _requests.Count;

    /// <summary>Most requests being answered at the same time so far.</summary>
    public int MaxConcurrent => Volatile.Read(ref _maxActive);

    public IReadOnlyList<ReceivedRequest> For(string messageId) => [.. _requests.Where(r => r.MessageId == messageId)];

    public static async Task<TargetServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Port 0: the OS picks a port nobody holds, so no other test's FreePort.Next() can be handed the same one.
            k.Listen(IPAddress.Loopback, 0);
            // Header values are bytes; Latin-1 keeps each one (0x80–0xFF included) as one char.
            k.RequestHeaderEncodingSelector = _ => Encoding.Latin1;
        });
        var app = builder.Build();
        var server = new TargetServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.Port = new Uri(address).Port;
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var active = Interlocked.Increment(ref _active);
        try
        {
            int seen;
            while (active > (seen = Volatile.Read(ref _maxActive)) && Interlocked.CompareExchange(ref _maxActive, active, seen) != seen)
            {
            }

            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var headers = new List<KeyValuePair<string, string>>();
            foreach (var (name, values) in context.Request.Headers)
            {
                foreach (var value in values)
                {
                    headers.Add(new(name, value ?? ""));
                }
            }

            var request = new ReceivedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString, headers, body.ToArray(), DateTimeOffset.UtcNow);
            _requests.Enqueue(request);
            var answer = Answer(request);
            if (answer.Delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(answer.Delay, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            context.Response.StatusCode = answer.Status;
            if (answer.Body.Length > 0)
            {
                await context.Response.WriteAsync(answer.Body);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Stops the target; a second call does nothing (a test may stop what its stack also tracks).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
