using Grpc.Net.Client;

namespace WebhookConnect.TestKit.Services;

/// <summary>
/// A channel to queue-manager's internal port (Publish, the internal admin API). Its own type, so a test cannot hand
/// the public Connect channel to a helper that publishes or creates channels.
/// </summary>
public sealed record InternalApi(GrpcChannel Channel);
