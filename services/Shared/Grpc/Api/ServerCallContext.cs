namespace Grpc.Core;

/// <summary>What a server handler knows about its call: deadline, cancellation, metadata, and the status it will end with.</summary>
public abstract class ServerCallContext
{
    private Dictionary<object, object>? _userState;

    /// <summary>The full method path, e.g. <c>/webhookconnect.v1.PublishService/Publish</c>.</summary>
    public abstract string Method { get; }

    public abstract string Host { get; }

    /// <summary>The caller's address in gRPC's form, e.g. <c>ipv4:127.0.0.1:53211</c>.</summary>
    public abstract string Peer { get; }

    /// <summary>The call's deadline in UTC, or <see cref="DateTime.MaxValue"/> when the client set none.</summary>
    public abstract DateTime Deadline { get; }

    public abstract Metadata RequestHeaders { get; }

    /// <summary>Fires when the client cancels, the deadline passes or the connection dies.</summary>
    public abstract CancellationToken CancellationToken { get; }

    /// <summary>Trailers sent with the final status.</summary>
    public abstract Metadata ResponseTrailers { get; }

    /// <summary>The status sent when the handler returns normally (default OK).</summary>
    public abstract Status Status { get; set; }

    public abstract WriteOptions? WriteOptions { get; set; }

    public IDictionary<object, object> UserState => _userState ??= [];

    /// <summary>Sends response headers now; at most once, and before the first response message.</summary>
    public abstract Task WriteResponseHeadersAsync(Metadata responseHeaders);
}
