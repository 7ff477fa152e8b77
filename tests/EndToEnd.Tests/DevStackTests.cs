using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>
/// The README's run command (SPEC §15) as a user runs it: the dev stack binary on free ports with a fresh data
/// directory; a webhook posted as its screen says reaches the echo target; Ctrl-C (SIGINT) stops it with exit code 0
/// and leaves none of its processes behind.
/// </summary>
public sealed class DevStackTests
{
    private const string AdminToken = "devstack_test_token_0123456789abcdef";

    private static readonly string[] PortVariables =
    [
        "REDIS_PORT", "QUEUE_MANAGER_PORT", "QUEUE_MANAGER_INTERNAL_PORT", "INGRESS_PORT", "ADMIN_GRPC_PORT", "ADMIN_HTTP_PORT", "ECHO_PORT",
        "INGRESS_MANAGEMENT_PORT", "QUEUE_MANAGER_MANAGEMENT_PORT", "ADMIN_MANAGEMENT_PORT", "CONNECTOR_MANAGEMENT_PORT",
    ];

    [Fact]
    public async Task TheRunCommandStartsEverythingDeliversTheDemoWebhookAndCtrlCLeavesNoProcessBehind()
    {
        var perl = Prerequisites.RequireExecutable("perl", "sudo apt-get install -y perl-base");
        var data = Directory.CreateTempSubdirectory("wc-devstack-test-").FullName;
        var ports = PortVariables.ToDictionary(v => v, _ => FreePort.Next());
        var env = ports.ToDictionary(p => p.Key, p => (string?)p.Value.ToString(CultureInfo.InvariantCulture));
        env["ADMIN_TOKEN"] = AdminToken;
        env["NO_COLOR"] = "1";
        var devStack = Path.Combine(RepoPaths.Root, "tools", "DevStack", "bin", ServiceBinaries.Configuration, "net10.0", "WebhookConnect.DevStack.dll");

        // A terminal's Ctrl-C sends SIGINT, which a shell running tests in the background may have set to "ignore"
        // for its children; perl restores the default so the dev stack sees SIGINT as a terminal user's would.
        await using var stack = ChildProcess.Start("devstack", perl, ["-e", "$SIG{INT} = 'DEFAULT'; exec @ARGV or die $!", "dotnet", devStack, "--data", data, "--fresh"], env);
        try
        {
            await stack.WaitForLineAsync(line => line.Contains("Ctrl-C stops everything", StringComparison.Ordinal), TimeSpan.FromMinutes(3));
            var ingress = ports["INGRESS_PORT"];
            var screen = stack.Output;
            Assert.Contains("Webhook Connect is running", screen, StringComparison.Ordinal);
            Assert.Contains($"http://127.0.0.1:{ingress}/webhook/demo", screen, StringComparison.Ordinal);
            Assert.Contains($"export ADMIN_TOKEN={AdminToken}", screen, StringComparison.Ordinal);
            Assert.Contains($"grpcurl -plaintext 127.0.0.1:{ports["ADMIN_GRPC_PORT"]} list", screen, StringComparison.Ordinal);
            Assert.Contains($"Webhooks on http://127.0.0.1:{ingress}/webhook/{{endpoint}}: HTTP/1.1 and HTTP/2 with prior knowledge (h2c)", screen, StringComparison.Ordinal);

            // The screen's curl, by HttpClient: the echo target prints the delivery.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            const string body = """{"hello":"devstack test"}""";
            using var posted = await http.PostAsync(new Uri($"http://127.0.0.1:{ingress}/webhook/demo"), new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
            var id = JsonDocument.Parse(await posted.Content.ReadAsStringAsync()).RootElement.GetProperty("message_id").GetString();
            var echoed = await stack.WaitForLineAsync(line => line.Contains($"message_id={id}", StringComparison.Ordinal), QueueManagerProcess.Patience);
            Assert.Contains($"POST /webhooks channel=demo endpoint=demo message_id={id} attempt=1 {body.Length} bytes: {body}", echoed, StringComparison.Ordinal);

            // The screen's admin curl: the delivery is acked.
            var statsUrl = new Uri($"http://127.0.0.1:{ports["ADMIN_HTTP_PORT"]}/admin/webhook-connect/channels/demo/stats");
            await Eventually.UntilAsync(
                async () =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, statsUrl);
                    request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminToken);
                    using var response = await http.SendAsync(request);
                    var stats = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                    return response.StatusCode == HttpStatusCode.OK && stats.GetProperty("acked_total").ToString() == "1";
                },
                QueueManagerProcess.Patience,
                "admin's stats to show the demo webhook acked");

            var descendants = Descendants(stack.Id);
            Assert.True(descendants.Count >= 5, $"expected redis-server and four services under the dev stack, found {descendants.Count}");

            stack.Signal(ChildProcess.SigInt);
            var code = await stack.WaitForExitAsync(TimeSpan.FromSeconds(90));
            Assert.True(code == 0, $"the dev stack exited with {code} after Ctrl-C:\n{stack.Output}");
            Assert.Contains("all processes stopped", stack.Output, StringComparison.Ordinal);
            // A clean start, one webhook and a Ctrl-C: nothing on the screen may look like a failure to a newcomer.
            var errors = stack.Output.Split('\n').Where(line => line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal)).ToList();
            Assert.True(errors.Count == 0, "error lines in a clean run:\n" + string.Join('\n', errors));
            var left = descendants.Where(d => d.IsAlive).Select(d => d.ToString()).ToList();
            Assert.True(left.Count == 0, $"still running after Ctrl-C: {string.Join(", ", left)}");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>Every process below <paramref name="root"/> (children, their children, …) from /proc.</summary>
    private static List<ProcessIdentity> Descendants(int root)
    {
        var parents = new Dictionary<int, List<ProcessIdentity>>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), CultureInfo.InvariantCulture, out var pid) && ProcessIdentity.Read(pid) is { } process)
            {
                if (!parents.TryGetValue(process.ParentId, out var children))
                {
                    parents[process.ParentId] = children = [];
                }

                children.Add(process);
            }
        }

        var found = new List<ProcessIdentity>();
        var pending = new Queue<int>([root]);
        while (pending.TryDequeue(out var pid))
        {
            foreach (var child in parents.GetValueOrDefault(pid) ?? [])
            {
                found.Add(child);
                pending.Enqueue(child.Id);
            }
        }

        return found;
    }

    /// <summary>A process as /proc/PID/stat names it; its start time tells it apart from a later process given the same pid.</summary>
    private sealed record ProcessIdentity(int Id, int ParentId, string Command, long StartTime)
    {
        public bool IsAlive => Read(Id) is { } now && now.StartTime == StartTime && now.State != 'Z';

        private char State { get; init; }

        public static ProcessIdentity? Read(int pid)
        {
            string stat;
            try
            {
                stat = File.ReadAllText($"/proc/{pid}/stat");
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }

            // "pid (comm) state ppid … starttime(22nd field)"; comm may contain spaces and parentheses.
            var close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            return new ProcessIdentity(pid, int.Parse(fields[1], CultureInfo.InvariantCulture), stat[(stat.IndexOf('(') + 1)..close], long.Parse(fields[19], CultureInfo.InvariantCulture))
            {
                State = fields[0][0],
            };
        }

        public override string ToString() => $"{Command} (pid {Id})";
    }
}
