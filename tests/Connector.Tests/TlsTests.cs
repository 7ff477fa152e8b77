using System.Net;
using System.Security.Cryptography;
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

namespace WebhookConnect.Connector.Tests;

/// <summary>TLS to queue-manager: a private CA (<c>ca_file</c>) and a client certificate. queue-manager has no TLS
/// listener, so the server here is a Kestrel HTTPS endpoint with our gRPC transport and a minimal Connect service that
/// answers Subscribe and records the client certificate it saw.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("wc-connector-tls-").FullName;

    [Fact]
    public async Task WithTheCaFileAndAClientCertificateTheStreamIsEstablishedOverTls()
    {
        var pki = Pki.Create(_directory);
        await using var server = await TlsConnectServer.StartAsync(pki.Server, pki.Client.Thumbprint);
        await using var target = await TargetServer.StartAsync();

        await using var connector = ConnectorProcess.StartWithoutQueueManagerFlags(
            Configs.Single("tls-channel", target.Url()),
            ["--queue-manager", $"127.0.0.1:{server.Port}", "--ca-file", pki.CaFile, "--client-cert-file", pki.ClientCertFile, "--client-key-file", pki.ClientKeyFile],
            Configs.Token("tls-token"));
        await connector.WaitReadyAsync();

        Assert.Equal("tls-channel", await server.Subscribed.Task.WaitAsync(QueueManagerProcess.Patience));
        Assert.Equal(pki.Client.Thumbprint, server.ClientThumbprint);
        Assert.Equal("Bearer tls-token", server.Authorization);
    }

    [Fact]
    public async Task WithoutTheCaFileTheServerCertificateIsRejectedAndTheConnectorKeepsRetrying()
    {
        var pki = Pki.Create(_directory);
        await using var server = await TlsConnectServer.StartAsync(pki.Server, requiredClientThumbprint: null);
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

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private sealed record Pki(X509Certificate2 Server, X509Certificate2 Client, string CaFile, string ClientCertFile, string ClientKeyFile)
    {
        public static Pki Create(string directory)
        {
            using var caKey = RSA.Create(2048);
            var caRequest = new CertificateRequest("CN=webhook-connect test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            var now = DateTimeOffset.UtcNow.AddMinutes(-5);
            using var ca = caRequest.CreateSelfSigned(now, now.AddDays(1));

            var server = Issue(ca, "CN=127.0.0.1", serverAuth: true);
            var client = Issue(ca, "CN=connector", serverAuth: false);
            var caFile = Path.Combine(directory, "ca.pem");
            File.WriteAllText(caFile, ca.ExportCertificatePem());
            var clientCert = Path.Combine(directory, "client.pem");
            var clientKey = Path.Combine(directory, "client.key");
            File.WriteAllText(clientCert, client.ExportCertificatePem());
            File.WriteAllText(clientKey, client.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
            return new Pki(server, client, caFile, clientCert, clientKey);
        }

        private static X509Certificate2 Issue(X509Certificate2 ca, string subject, bool serverAuth)
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
            if (serverAuth)
            {
                var san = new SubjectAlternativeNameBuilder();
                san.AddIpAddress(IPAddress.Loopback);
                san.AddDnsName("localhost");
                request.CertificateExtensions.Add(san.Build());
            }

            var now = DateTimeOffset.UtcNow.AddMinutes(-1);
            using var issued = request.Create(ca, now, now.AddHours(12), RandomNumberGenerator.GetBytes(8));
            using var withKey = issued.CopyWithPrivateKey(key);
            return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        }
    }

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
