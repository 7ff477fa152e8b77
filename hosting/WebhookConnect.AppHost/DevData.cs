using System.Security.Cryptography;
using System.Text;

namespace WebhookConnect.AppHost;

/// <summary>
/// The data directory of the local stack: Redis's AOF, ingress's spool, the demo channel declared in admin's channels
/// file, and the two secrets as files readable by their owner only (the admin token and the demo channel's connector
/// token), so neither appears on a command line or in the dashboard's view of a resource's environment.
/// </summary>
public sealed class DevData
{
    private DevData(string root) => Root = root;

    public string Root { get; }

    public string Redis => Path.Combine(Root, "redis");

    public string Spool => Path.Combine(Root, "spool");

    public string ChannelsFile => Path.Combine(Root, "channels.yaml");

    public string DemoTokenFile => Path.Combine(Root, "demo-token");

    public string AdminTokenFile => Path.Combine(Root, "admin-token");

    public static DevData Prepare(StackSettings settings)
    {
        if (settings.Fresh && Directory.Exists(settings.DataDirectory))
        {
            Directory.Delete(settings.DataDirectory, recursive: true);
        }

        var data = new DevData(settings.DataDirectory);
        Directory.CreateDirectory(data.Redis);
        Directory.CreateDirectory(data.Spool);
        if (!File.Exists(data.DemoTokenFile))
        {
            WriteSecret(data.DemoTokenFile, "wct_demo_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
        }

        // Written at every start: ADMIN_TOKEN may differ from the last run's.
        File.Delete(data.AdminTokenFile);
        WriteSecret(data.AdminTokenFile, settings.AdminToken);
        File.WriteAllText(data.ChannelsFile, $$"""
            # Written by scripts/run.sh (hosting/WebhookConnect.AppHost) at every start. The demo channel: webhooks to
            # /webhook/demo go to the echo target.
            channels:
              - name: demo
                token_file: {{data.DemoTokenFile}}
                settings:
                  max_delivery_attempts: 5
                  retry_backoff: { initial: 1s, max: 30s }
                endpoints:
                  - id: demo
                    # Open on purpose, for curl on this machine. A real endpoint chooses its sender's preset
                    # (github, stripe, standard_webhooks, …); docs/channels.md lists them.
                    verification: { none: {} }

            """);
        return data;
    }

    private static void WriteSecret(string path, string value)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var file = new FileStream(path, options);
        file.Write(Encoding.ASCII.GetBytes(value));
    }
}
