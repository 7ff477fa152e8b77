using System.Globalization;

namespace WebhookConnect.EchoTarget;

public static class EchoSettings
{
    public const int DefaultPort = 8099;

    /// <summary>The port from <c>ECHO_PORT</c>; a value that is not a port stops the target with a message naming it.</summary>
    public static int Port(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return DefaultPort;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? port
            : throw new ArgumentException($"ECHO_PORT = '{text}' is not a port (1-65535)");
    }
}
