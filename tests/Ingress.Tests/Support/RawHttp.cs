using System.Net;
using System.Net.Sockets;
using System.Text;

namespace WebhookConnect.Ingress.Tests.Support;

/// <summary>
/// A hand-written HTTP/1.1 request over a socket, for what HttpClient will not send: a header name repeated on
/// separate lines (it joins them with commas), header bytes outside ASCII.
/// </summary>
public static class RawHttp
{
    /// <summary>Sends the request (with <c>Host</c>, <c>Content-Length</c> and <c>Connection: close</c> added) and
    /// returns the status line.</summary>
    public static async Task<string> PostAsync(int port, string path, byte[] body, IEnumerable<(string Name, byte[] Value)> headers)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        var stream = client.GetStream();
        var request = new MemoryStream();
        request.Write(Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n"));
        foreach (var (name, value) in headers)
        {
            request.Write(Encoding.ASCII.GetBytes(name + ": "));
            request.Write(value);
            request.Write("\r\n"u8);
        }

        request.Write("\r\n"u8);
        request.Write(body);
        await stream.WriteAsync(request.ToArray(), timeout.Token);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync(timeout.Token) ?? "";
    }

    public static (string, byte[]) Header(string name, string value) => (name, Encoding.UTF8.GetBytes(value));
}
