using System.Net;
using Microsoft.AspNetCore.Http;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Ingress.Admission;

/// <summary>
/// The sender's address and the endpoint's allowlist (channel.proto <c>IpAllowlist</c>). With trusted proxies the
/// source is the right-most <c>X-Forwarded-For</c> address that is not a trusted proxy, and only when the TCP peer
/// itself is a trusted proxy; otherwise it is the TCP peer. IPv4-mapped IPv6 addresses count as IPv4.
/// </summary>
public sealed class SourceAddress
{
    private readonly IPNetwork[] _allowed;
    private readonly IPNetwork[] _trustedProxies;

    private SourceAddress(IPNetwork[] allowed, IPNetwork[] trustedProxies)
    {
        _allowed = allowed;
        _trustedProxies = trustedProxies;
    }

    /// <summary>The rules of an endpoint; an entry that does not parse is skipped (queue-manager validates them).</summary>
    public static SourceAddress From(IpAllowlist? allowlist) =>
        new([.. Parse(allowlist?.AllowedCidrs)], [.. Parse(allowlist?.TrustedProxies)]);

    public bool HasAllowlist => _allowed.Length > 0;

    /// <summary>The sender as this endpoint sees it (null when the peer address is unknown).</summary>
    public IPAddress? Resolve(HttpContext context)
    {
        var peer = Normalise(context.Connection.RemoteIpAddress);
        if (peer is null || _trustedProxies.Length == 0 || !Contains(_trustedProxies, peer))
        {
            return peer;
        }

        var forwarded = context.Request.Headers["X-Forwarded-For"];
        IPAddress? leftmost = null;
        for (var v = forwarded.Count - 1; v >= 0; v--)
        {
            var entries = (forwarded[v] ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            for (var i = entries.Length - 1; i >= 0; i--)
            {
                if (!IPAddress.TryParse(entries[i], out var address))
                {
                    // An unparsable hop cannot be trusted further: it is where the chain ends.
                    return leftmost ?? peer;
                }

                address = Normalise(address)!;
                if (!Contains(_trustedProxies, address))
                {
                    return address;
                }

                leftmost = address;
            }
        }

        // Every hop was a trusted proxy: the first one is the best we know.
        return leftmost ?? peer;
    }

    public bool IsAllowed(IPAddress? source) => _allowed.Length == 0 || (source is not null && Contains(_allowed, source));

    private static bool Contains(IPNetwork[] networks, IPAddress address)
    {
        foreach (var network in networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private static IPAddress? Normalise(IPAddress? address) =>
        address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    private static IEnumerable<IPNetwork> Parse(IEnumerable<string>? cidrs)
    {
        foreach (var text in cidrs ?? [])
        {
            if (IPNetwork.TryParse(text, out var network))
            {
                yield return network;
            }
            else if (IPAddress.TryParse(text, out var address))
            {
                address = Normalise(address)!;
                yield return new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            }
        }
    }
}
