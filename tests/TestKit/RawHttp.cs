using System.Net;
using System.Net.Sockets;
using System.Text;

namespace WebhookConnect.TestKit;

/// <summary>
/// A hand-written HTTP/1.1 request over a socket, for what HttpClient will not send: a header name repeated on
/// separate lines (it joins them with commas), header bytes outside ASCII (obs-text, 0x80–0xFF).
/// </summary>
public static class RawHttp
{
    /// <summary>Sends the request (with <c>Host</c>, <c>Content-Length</c> and <c>Connection: close</c> added) and
    /// returns the status line.</summary>
    public static async Task<string> PostAsync(int port, string path, byte[] body, IEnumerable<(string Name, byte[] Value)> headers)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stream = await SendAsync(client, port, path, body, headers, timeout.Token);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync(timeout.Token) ?? "";
    }

    /// <summary>Like <see cref="PostAsync"/>, and returns the response's body too (everything after the blank line
    /// that ends its head; the server closes the connection, as asked).</summary>
    public static async Task<(string StatusLine, string Body)> ExchangeAsync(int port, string path, byte[] body, IEnumerable<(string Name, byte[] Value)> headers)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stream = await SendAsync(client, port, path, body, headers, timeout.Token);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync(timeout.Token);
        var end = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (response.Split("\r\n", 2)[0], end < 0 ? "" : response[(end + 4)..]);
    }

    private static async Task<NetworkStream> SendAsync(TcpClient client, int port, string path, byte[] body, IEnumerable<(string Name, byte[] Value)> headers, CancellationToken cancel)
    {
        await client.ConnectAsync(IPAddress.Loopback, port, cancel);
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
        await stream.WriteAsync(request.ToArray(), cancel);
        return stream;
    }

    public static (string, byte[]) Header(string name, string value) => (name, Encoding.UTF8.GetBytes(value));
}
