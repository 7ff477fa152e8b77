using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace WebhookConnect.AppHost;

/// <summary>
/// Redis is ready when it answers PING. Hand-written rather than Aspire.Hosting.Redis's check: that package models
/// Redis as a container, and here it is a plain redis-server process; one command over a socket needs no client.
/// </summary>
public sealed class RedisPing(int port) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken);
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer, cancellationToken);
            return read >= 5 && buffer.AsSpan(0, 5).SequenceEqual("+PONG"u8)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"redis-server on 127.0.0.1:{port} answered PING with something other than PONG");
        }
        catch (SocketException ex)
        {
            return HealthCheckResult.Unhealthy($"redis-server on 127.0.0.1:{port} does not answer yet: {ex.Message}");
        }
    }
}
