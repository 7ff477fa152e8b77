using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebhookConnect.Connector.Tests.Support;
using WebhookConnect.Contracts.V1;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

/// <summary>TLS to queue-manager: a private CA (<c>ca_file</c>) and a client certificate. queue-manager's TLS listener
/// asks for no client certificate, so the server here is a Kestrel HTTPS endpoint with our gRPC transport and a minimal
/// Connect service that answers Subscribe and records the client certificate it saw (the real queue-manager over TLS:
/// EndToEnd.Tests, <c>TransportSecurityScenarios</c>).</summary>
public sealed class TlsTests : IDisposable
{
    private readonly TestPki _pki = TestPki.Create();

    [Fact]
    public async Task WithTheCaFileAndAClientCertificateTheStreamIsEstablishedOverTls()
    {
        var serverCertificate = _pki.IssueServer("queue-manager");
        var client = _pki.IssueClient("connector");
        await using var server = await TlsConnectServer.StartAsync(serverCertificate.Certificate, client.Thumbprint);
        await using var target = await TargetServer.StartAsync();

        await using var connector = ConnectorProcess.StartWithoutQueueManagerFlags(
            Configs.Single("tls-channel", target.Url()),
            ["--queue-manager", $"127.0.0.1:{server.Port}", "--ca-file", _pki.CaFile, "--client-cert-file", client.CertificateFile, "--client-key-file", client.KeyFile],
            Configs.Token("tls-token"));
        await connector.WaitReadyAsync();

        Assert.Equal("tls-channel", await server.Subscribed.Task.WaitAsync(QueueManagerProcess.Patience));
        Assert.Equal(client.Thumbprint, server.ClientThumbprint);
        Assert.Equal("Bearer tls-token", server.Authorization);
    }

    [Fact]
    public async Task WithoutTheCaFileTheServerCertificateIsRejectedAndTheConnectorKeepsRetrying()
    {
        await using var server = await TlsConnectServer.StartAsync(_pki.IssueServer("queue-manager").Certificate, requiredClientThumbprint: null);
        await using var target = await TargetServer.StartAsync();

        await using var connector = ConnectorProcess.StartWithoutQueueManagerFlags(
            Configs.Single("tls-channel", target.Url()), ["--queue-manager", $"https://127.0.0.1:{server.Port}"], Configs.Token("tls-token"));

        // Grpc.Net.Client reports a failed TLS handshake as INTERNAL with the handshake's reason.
        await connector.Process.WaitForLineAsync(
            line => line.Contains("Stream of channel tls-channel ended (", StringComparison.Ordinal) && line.Contains("remote certificate is invalid", StringComparison.Ordinal),
            QueueManagerProcess.Patience);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await connector.ReadyStatusAsync());
        Assert.False(server.Subscribed.Task.IsCompleted);
    }

    public void Dispose() => _pki.Dispose();

    private sealed class TlsConnectServer : ConnectService.ConnectServiceBase, IAsyncDisposable
    {
        private WebApplication _app = null!;

        public int Port { get; private set; }

        public TaskCompletionSource<string> Subscribed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string? ClientThumbprint { get; private set; }

        public string? Authorization { get; private set; }

        public static async Task<TlsConnectServer> StartAsync(X509Certificate2 certificate, string? requiredClientThumbprint)
        {
            var server = new TlsConnectServer();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddGrpc();
            builder.Services.AddSingleton(server);
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = certificate;
                    if (requiredClientThumbprint is not null)
                    {
                        https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                        https.ClientCertificateValidation = (cert, _, _) => cert.Thumbprint == requiredClientThumbprint;
                    }
                });
            }));
            server._app = builder.Build();
            server._app.MapGrpcService<TlsConnectServer>();
            await server._app.StartAsync();
            var address = server._app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.Single();
            server.Port = new Uri(address).Port;
            return server;
        }

        public override async Task Connect(IAsyncStreamReader<ConnectRequest> requestStream, IServerStreamWriter<ConnectResponse> responseStream, ServerCallContext context)
        {
            Authorization = context.RequestHeaders.GetValue("authorization");
            ClientThumbprint = context.GetHttpContext().Connection.ClientCertificate?.Thumbprint;
            if (!await requestStream.MoveNext(context.CancellationToken) || requestStream.Current.FrameCase != ConnectRequest.FrameOneofCase.Subscribe)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, "subscribe first"));
            }

            await responseStream.WriteAsync(new ConnectResponse { Subscribed = new Contracts.V1.Subscribed { ConnectionId = "tls-1", MaxInFlight = 1, ReplicaId = "tls" } });
            Subscribed.TrySetResult(requestStream.Current.Subscribe.Channel);
            while (await requestStream.MoveNext(context.CancellationToken))
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
