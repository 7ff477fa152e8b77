using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Http;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Ingress.Verification;

/// <summary>
/// The keys queue-manager de-duplicates a message on (docs/ingress.md, "Replays and duplicates"): the idempotency key
/// (the endpoint's header, or else a signed id) and the replay key (the verified signature, remembered for as long as
/// a copy of the request would still verify).
/// </summary>
public static class DuplicateKeys
{
    /// <summary>Added to the time a timestamped request stays verifiable: ingress replicas whose clocks differ by up
    /// to this much still recognise each other's replays.</summary>
    public static readonly TimeSpan ClockSkewMargin = TimeSpan.FromMinutes(1);

    /// <summary>Longest idempotency key queue-manager takes (publish.proto); a longer value is replaced by its hash.</summary>
    private const int MaxIdempotencyKey = 512;

    /// <param name="idempotencyHeader">The endpoint's idempotency header; empty when it names none.</param>
    /// <param name="untimedWindow">How long replays of a signature without a timestamp are recognised
    /// (<c>Ingress:ReplayWindow</c>); zero turns that off.</param>
    public static void Fill(Message message, string idempotencyHeader, IHeaderDictionary headers, in Verdict verdict, DateTimeOffset now, TimeSpan untimedWindow)
    {
        if (idempotencyHeader.Length > 0)
        {
            // The operator's choice wins, even an unsigned header: the replay key below still catches a signed
            // request re-sent with that header changed.
            if (headers[idempotencyHeader] is { Count: > 0 } values)
            {
                message.IdempotencyKey = Bounded(values[0] ?? "");
            }
        }
        else if (verdict.SignedId is { } signedId)
        {
            message.IdempotencyKey = Bounded(signedId);
        }

        if (verdict.Signature is not { } signature)
        {
            return;
        }

        var window = verdict.VerifiableUntil is { } until ? until - now + ClockSkewMargin : untimedWindow;
        if (window <= TimeSpan.Zero)
        {
            return;
        }

        // A hash of the MAC names the signed content and gives nothing away: whoever can read the stored message
        // already has the signature header, and neither lets them sign anything else.
        message.ReplayKey = Convert.ToHexStringLower(SHA256.HashData(signature));
        message.ReplayWindow = Duration.FromTimeSpan(window);
    }

    /// <summary>The value as the idempotency key, or <c>sha256:&lt;hex&gt;</c> of it when it is longer than queue-manager
    /// takes: equal values still give equal keys, and a sender's long id is no reason to refuse its webhook.</summary>
    private static string Bounded(string value) =>
        value.Length <= MaxIdempotencyKey ? value : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(value)));
}
