using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>Issue 20, finding 12: TLS on every listener (PEM files, renewed without a restart) and listeners that bind
/// loopback unless configured. Real redis-server, queue-manager, admin, ingress and connector processes; certificates
/// from a CA made for each test.</summary>
public sealed class TransportSecurityScenarios
{
    /// <summary>A channel token file in <paramref name="directory"/>: the connector takes no token on its command line.</summary>
    private static string TokenFile(string directory)
    {
        var path = Path.Combine(directory, "token");
        File.WriteAllText(path, "bind-test-channel-token-0123456789");
        return path;
    }

    private static readonly TimeSpan Patience = ScenarioStack.Patience;

    [Fact]
    public async Task WithTlsOnEveryListenerWebhooksTravelIngressQueueManagerConnectorToTheTargetAndPlaintextClientsAreRefused()
    {
        using var pki = TestPki.Create();
        await using var stack = await ScenarioStack.StartAsync(tls: pki);
        var token = await stack.CreateChannelAsync("tls-channel", ["tls-endpoint"]); // admin gRPC (TLS) → queue-manager internal (TLS)
        var target = await stack.StartTargetAsync();
        await stack.StartConnectorAsync("tls-channel", token, target); // connector → queue-manager public (TLS)

        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 3; i++)
        {
            replies.Add(await stack.PostWebhookAsync("tls-endpoint", i, 4)); // HTTP/1.1 over TLS
        }

        var overHttp2 = ScenarioStack.WebhookBody(4, 4);
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/webhook/tls-endpoint", UriKind.Relative))
        {
            Content = new ByteArrayContent(overHttp2),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        })
        using (var response = await stack.Ingress.Http.SendAsync(request))
        {
            Assert.Equal((HttpStatusCode.OK, new Version(2, 0)), (response.StatusCode, response.Version));
        }

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        await stack.WaitForStatsAsync("tls-channel", s => s.AckedTotal == 4, "4 acked");
        Assert.Equal(4, target.Count);
        foreach (var reply in replies)
        {
            Assert.Equal(reply.SentBody, Assert.Single(target.For(reply.MessageId)).Body);
        }

        Assert.Single(target.Requests, r => r.Body.AsSpan().SequenceEqual(overHttp2));

        // The JSON twin answers over TLS too.
        using (var http = new HttpClient(pki.Handler()))
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(stack.AdminHttp, "/admin/webhook-connect/channels")))
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ScenarioStack.AdminToken);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("tls-channel", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Plaintext to the TLS ports: gRPC without TLS (h2c) gets a clean UNAVAILABLE/INTERNAL, within its deadline.
        foreach (var port in new[] { stack.QueueManager.GrpcPort, stack.QueueManager.InternalPort, stack.AdminGrpcPort })
        {
            using var plaintext = GrpcChannel.ForAddress($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
                await new Health.HealthClient(plaintext).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(30)));
            Assert.True(refused.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"port {port}: {refused.Status}");
        }

        // A plaintext HTTP/1.1 webhook to the TLS webhook port: the connection is closed, no HTTP answer, nothing queued.
        Assert.Equal("", await PlaintextExchangeAsync(stack.Ingress.Port, "POST /webhook/tls-endpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"));

        // Every process keeps serving over TLS: one more webhook goes all the way, and nothing else was queued.
        var last = await stack.PostWebhookAsync("tls-endpoint", 5, 5);
        Assert.Equal(HttpStatusCode.OK, last.Status);
        await stack.WaitForStatsAsync("tls-channel", s => s.AckedTotal == 5, "5 acked");
        Assert.Equal(5, target.Count);
    }

    [Fact]
    public async Task ARenewedCertificateIsServedToNewConnectionsWithoutARestart()
    {
        using var pki = TestPki.Create();
        await using var redis = await RedisServer.StartAsync();
        await using var queueManager = await QueueManagerProcess.StartAsync(redis.Endpoint, tls: pki);
        await using var ingress = await IngressProcess.StartAsync(
            queueManager.InternalPort, Path.Combine(pki.Directory, "spool"), tls: pki);
        var ingressName = "ingress-" + ingress.Port.ToString(CultureInfo.InvariantCulture);
        var original = queueManager.Certificate!;
        var pids = (queueManager.Process.Id, ingress.Process.Id);

        Assert.Equal(original.Thumbprint, await GrpcCertificateAsync(pki, queueManager.GrpcPort));
        Assert.Equal(original.Thumbprint, await GrpcCertificateAsync(pki, queueManager.InternalPort));
        var ingressOriginal = await HttpsCertificateAsync(pki, ingress.Port);

        // A renewal half done (the new key in place, the certificate not yet): the pair does not load, so the previous
        // certificate is still served, never a failed handshake, and the process says why.
        var renewed = pki.IssueServer("staging");
        Assert.NotEqual(original.Thumbprint, renewed.Thumbprint);
        File.Copy(renewed.KeyFile, original.KeyFile, overwrite: true);
        await Eventually.UntilAsync(
            async () => await GrpcCertificateAsync(pki, queueManager.GrpcPort) == original.Thumbprint &&
                queueManager.Process.Output.Contains("certificate files changed but cannot be used", StringComparison.Ordinal),
            Patience, "queue-manager to keep its certificate and log the unusable pair");

        // The renewal completed, and ingress renewed in one step.
        File.Copy(renewed.CertificateFile, original.CertificateFile, overwrite: true);
        var ingressRenewed = pki.IssueServer(ingressName);
        Assert.NotEqual(ingressOriginal, ingressRenewed.Thumbprint);

        await Eventually.UntilAsync(async () => await GrpcCertificateAsync(pki, queueManager.GrpcPort) == renewed.Thumbprint, Patience, "queue-manager's public port to serve the renewed certificate");
        await Eventually.UntilAsync(async () => await GrpcCertificateAsync(pki, queueManager.InternalPort) == renewed.Thumbprint, Patience, "queue-manager's internal port to serve the renewed certificate");
        await Eventually.UntilAsync(async () => await HttpsCertificateAsync(pki, ingress.Port) == ingressRenewed.Thumbprint, Patience, "ingress to serve the renewed certificate");

        // The same processes, and the connections opened before the renewal still work.
        Assert.Equal(pids, (queueManager.Process.Id, ingress.Process.Id));
        Assert.False(queueManager.Process.HasExited || ingress.Process.HasExited);
        var health = await new Health.HealthClient(queueManager.Channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    /// <summary>The listener's section, its CertificateFile and KeyFile ("" leaves it unset), the expected line.</summary>
    public static TheoryData<string, string, string, string> BadTlsSettings => new()
    {
        { "Tls", "{crt}", "", "Invalid configuration: QueueManager:Tls:KeyFile = '' (default): TLS needs both CertificateFile and KeyFile" },
        { "InternalTls", "/nonexistent/tls.crt", "{key}", "Invalid configuration: QueueManager:InternalTls:CertificateFile = '/nonexistent/tls.crt': file not found." },
        { "Tls", "{crt}", "{other-key}", "Invalid configuration: QueueManager:Tls:CertificateFile = '{crt}': cannot be used with KeyFile '{other-key}'" },
    };

    [Theory]
    [MemberData(nameof(BadTlsSettings))]
    public async Task ABadTlsSettingStopsStartUpNamingTheSettingAndTheValue(string listener, string certificateFile, string keyFile, string expected)
    {
        using var pki = TestPki.Create();
        var certificate = pki.IssueServer("qm");
        var other = pki.IssueServer("other");
        string Fill(string text) => text.Replace("{crt}", certificate.CertificateFile, StringComparison.Ordinal)
            .Replace("{key}", certificate.KeyFile, StringComparison.Ordinal).Replace("{other-key}", other.KeyFile, StringComparison.Ordinal);
        var settings = new Dictionary<string, string>
        {
            ["QueueManager:AllowInternalWithoutToken"] = "true",
            ["QueueManager:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["QueueManager:InternalPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["QueueManager:HttpPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["Management:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (name, value) in new[] { ("CertificateFile", certificateFile), ("KeyFile", keyFile) })
        {
            if (value.Length > 0)
            {
                settings[$"QueueManager:{listener}:{name}"] = Fill(value);
            }
        }

        await using var process = ServiceBinaries.Start("qm-bad-tls", QueueManagerProcess.Assembly, settings);

        Assert.Equal(2, await process.WaitForExitAsync(Patience));
        Assert.True(process.Output.Contains(Fill(expected), StringComparison.Ordinal), $"expected \"{Fill(expected)}\" in:\n{process.Output}");
    }

    public static TheoryData<string> Services => new() { "queue-manager", "ingress", "admin", "connector" };

    [Theory]
    [MemberData(nameof(Services))]
    public async Task AServiceStartedWithoutHostSettingsListensOnLoopbackOnly(string service)
    {
        var directory = Directory.CreateTempSubdirectory("wc-bind-").FullName;
        try
        {
            await using var redis = service == "queue-manager" ? await RedisServer.StartAsync() : null;
            var ports = new[] { FreePort.Next(), FreePort.Next(), FreePort.Next(), FreePort.Next() };
            string P(int i) => ports[i].ToString(CultureInfo.InvariantCulture);
            var (assembly, settings, listening) = service switch
            {
                "queue-manager" => (QueueManagerProcess.Assembly, new Dictionary<string, string>
                {
                    ["QueueManager:Redis"] = redis!.Endpoint,
                    ["QueueManager:AllowInternalWithoutToken"] = "true",
                    ["QueueManager:Port"] = P(0),
                    ["QueueManager:InternalPort"] = P(1),
                    ["Management:Port"] = P(2),
                    ["QueueManager:HttpPort"] = P(3),
                }, ports),
                "ingress" => (IngressProcess.Assembly, new Dictionary<string, string>
                {
                    ["Ingress:Port"] = P(0),
                    ["Ingress:QueueManager"] = "http://127.0.0.1:1",
                    ["Ingress:SpoolPath"] = Path.Combine(directory, "spool"),
                    ["Management:Port"] = P(2),
                }, [ports[0], ports[2]]),
                "admin" => (ServiceBinaries.Assembly("Admin", "WebhookConnect.Admin"), new Dictionary<string, string>
                {
                    ["Admin:GrpcPort"] = P(0),
                    ["Admin:HttpPort"] = P(1),
                    ["Admin:Tokens"] = "loopback-bind-test-token-0123456789abcdef",
                    ["Admin:QueueManager"] = "http://127.0.0.1:1",
                    ["Management:Port"] = P(2),
                }, ports[..3]),
                _ => (ConnectorProcess.Assembly, new Dictionary<string, string>
                {
                    ["Connector:Subscriptions:0:Channel"] = "bind",
                    ["Connector:Subscriptions:0:TokenFile"] = TokenFile(directory),
                    ["Connector:Subscriptions:0:DefaultTarget:Url"] = "http://127.0.0.1:1/",
                    ["Connector:QueueManager:Address"] = "http://127.0.0.1:1",
                    ["Connector:QueueManager:Insecure"] = "true",
                    ["Management:Port"] = P(2),
                }, [ports[2]]),
            };
            await using var process = service == "connector"
                ? ChildProcess.Start("connector-bind", "dotnet", [assembly, .. settings.SelectMany(s => new[] { "--set", $"{s.Key}={s.Value}" })], workingDirectory: directory)
                : ServiceBinaries.Start(service + "-bind", assembly, settings);

            await process.UntilAsync(() => Task.FromResult(listening.All(port => ListeningAddresses(port).Count > 0)), Patience, $"{service} to listen on {string.Join(", ", listening)}");
            foreach (var port in listening)
            {
                Assert.Equal([IPAddress.Loopback], ListeningAddresses(port));
                if (NonLoopbackAddress() is { } other)
                {
                    using var client = new TcpClient();
                    var refused = await Assert.ThrowsAsync<SocketException>(async () => await client.ConnectAsync(other, port));
                    Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The local addresses of every listening TCP socket on <paramref name="port"/>, IPv4 and IPv6, read from
    /// <c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c> (state 0A).</summary>
    private static List<IPAddress> ListeningAddresses(int port)
    {
        var found = new List<IPAddress>();
        foreach (var (file, length) in new[] { ("/proc/net/tcp", 4), ("/proc/net/tcp6", 16) })
        {
            foreach (var line in File.ReadLines(file).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var local = fields[1].Split(':');
                if (fields[3] != "0A" || int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) != port)
                {
                    continue;
                }

                // The kernel prints each 32-bit word in host (little-endian) order.
                var bytes = Convert.FromHexString(local[0]);
                for (var word = 0; word < length; word += 4)
                {
                    Array.Reverse(bytes, word, 4);
                }

                found.Add(new IPAddress(bytes));
            }
        }

        return found;
    }

    private static IPAddress? NonLoopbackAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));

    private static async Task<string?> GrpcCertificateAsync(TestPki pki, int port)
    {
        X509Certificate2? seen = null;
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
            new GrpcChannelOptions { HttpHandler = pki.Handler(c => seen = c), DisposeHttpClient = true });
        await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
        return seen?.Thumbprint;
    }

    private static async Task<string?> HttpsCertificateAsync(TestPki pki, int port)
    {
        X509Certificate2? seen = null;
        using var http = new HttpClient(pki.Handler(c => seen = c));
        using var response = await http.PostAsync(new Uri($"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/webhook/nobody"), new ByteArrayContent([]));
        return seen?.Thumbprint;
    }

    /// <summary>Sends <paramref name="request"/> in plaintext and returns whatever comes back before the server closes
    /// the connection (a reset counts as closed).</summary>
    private static async Task<string> PlaintextExchangeAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        using var timeout = new CancellationTokenSource(Patience);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
        }

        var text = Encoding.ASCII.GetString(received.ToArray());
        return text.StartsWith("HTTP/", StringComparison.Ordinal) ? text : "";
    }
}
