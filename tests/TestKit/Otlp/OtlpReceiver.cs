using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace WebhookConnect.TestKit.Otlp;

public sealed record OtlpRequest(string Path, string? ContentType, byte[] Body);

/// <summary>A collector stand-in speaking OTLP/HTTP: accepts protobuf POSTs on 127.0.0.1 and keeps them.</summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<OtlpRequest> _requests = new();

    private OtlpReceiver(WebApplication app, int port)
    {
        _app = app;
        Endpoint = $"http://127.0.0.1:{port}";
    }

    public string Endpoint { get; }

    /// <summary>What a service needs to export every signal here, promptly (spans every 100 ms).</summary>
    public Dictionary<string, string> ExportSettings() => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint,
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
    };

    public IReadOnlyList<OtlpRequest> Requests => _requests.ToArray();

    public static async Task<OtlpReceiver> StartAsync()
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app, port);
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            receiver._requests.Enqueue(new OtlpRequest(context.Request.Path.Value ?? "", context.Request.ContentType, body.ToArray()));
            // An empty Export*ServiceResponse: full success.
            context.Response.ContentType = "application/x-protobuf";
            context.Response.StatusCode = StatusCodes.Status200OK;
        });
        await app.StartAsync();
        return receiver;
    }

    public Task<OtlpRequest> WaitForAsync(Func<OtlpRequest, bool> match, string what) =>
        Eventually.GetAsync(() => Task.FromResult(_requests.FirstOrDefault(match)), what);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
