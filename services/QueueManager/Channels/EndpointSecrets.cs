using WebhookConnect.Contracts.V1;
using Preset = WebhookConnect.Contracts.V1.Verification.PresetOneofCase;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>
/// The secret of each verification preset: write-only through the admin API (channel.proto), kept on update when
/// left empty on the same preset, returned only to ingress.
/// </summary>
public static class EndpointSecrets
{
    /// <summary>The field of an endpoint in <c>ChannelKeys.Endpoints</c> and <c>GlobalKeys.EndpointIndex</c>.</summary>
    public static string Field(EndpointConfig endpoint) => Redis.GlobalKeys.EndpointField(endpoint.Namespace, endpoint.Id);

    public static string Get(Verification? verification) => verification?.PresetCase switch
    {
        Preset.Bearer => verification.Bearer.Token,
        Preset.Basic => verification.Basic.Password,
        Preset.Hmac => verification.Hmac.Secret,
        Preset.Github => verification.Github.Secret,
        Preset.Stripe => verification.Stripe.Secret,
        Preset.StandardWebhooks => verification.StandardWebhooks.Secret,
        Preset.Shopify => verification.Shopify.Secret,
        Preset.Slack => verification.Slack.Secret,
        _ => "",
    };

    /// <summary>
    /// The endpoint to store: a copy of <paramref name="incoming"/> whose empty secret is taken from
    /// <paramref name="stored"/> when both use the same preset, then checked to carry the secret its preset needs.
    /// </summary>
    public static EndpointConfig ForStorage(string path, EndpointConfig incoming, EndpointConfig? stored)
    {
        var result = incoming.Clone();
        if (result.Verification is { } verification)
        {
            verification.HasSecret = false; // output only
            if (Get(verification).Length == 0
                && stored?.Verification is { } previous
                && previous.PresetCase == verification.PresetCase)
            {
                Set(verification, Get(previous));
            }

            if (verification.PresetCase is not (Preset.None or Preset.NoVerification) && Get(verification).Length == 0)
            {
                throw ChannelException.Invalid($"{path}.verification.{SecretField(verification.PresetCase)} = \"\": is required for this preset");
            }
        }

        return result;
    }

    /// <summary>A copy for the admin API: secrets blanked, <c>has_secret</c> telling whether one is stored.</summary>
    public static EndpointConfig Redacted(EndpointConfig stored)
    {
        var result = ExplicitPreset(stored.Clone());
        result.Verification.HasSecret = Get(result.Verification).Length > 0;
        Set(result.Verification, "");
        return result;
    }

    /// <summary>A copy for ingress: secrets included, <c>has_secret</c> set for consistency with the admin view.</summary>
    public static EndpointConfig WithSecretFlag(EndpointConfig stored)
    {
        var result = ExplicitPreset(stored.Clone());
        result.Verification.HasSecret = Get(result.Verification).Length > 0;
        return result;
    }

    /// <summary>
    /// An endpoint stored before a preset had to be chosen (verification absent or with no preset) accepted every
    /// request; it reads back as what it is, <c>no_verification</c> (<c>none</c>), so that what an operator reads
    /// can be written back unchanged (writes require a preset) and says plainly that the endpoint is open.
    /// </summary>
    private static EndpointConfig ExplicitPreset(EndpointConfig endpoint)
    {
        endpoint.Verification ??= new Verification();
        if (endpoint.Verification.PresetCase == Preset.None)
        {
            endpoint.Verification.NoVerification = new Verification.Types.NoVerification();
        }

        return endpoint;
    }

    private static void Set(Verification verification, string secret)
    {
        switch (verification.PresetCase)
        {
            case Preset.Bearer: verification.Bearer.Token = secret; break;
            case Preset.Basic: verification.Basic.Password = secret; break;
            case Preset.Hmac: verification.Hmac.Secret = secret; break;
            case Preset.Github: verification.Github.Secret = secret; break;
            case Preset.Stripe: verification.Stripe.Secret = secret; break;
            case Preset.StandardWebhooks: verification.StandardWebhooks.Secret = secret; break;
            case Preset.Shopify: verification.Shopify.Secret = secret; break;
            case Preset.Slack: verification.Slack.Secret = secret; break;
        }
    }

    private static string SecretField(Preset preset) => preset switch
    {
        Preset.Bearer => "bearer.token",
        Preset.Basic => "basic.password",
        Preset.Hmac => "hmac.secret",
        Preset.Github => "github.secret",
        Preset.Stripe => "stripe.secret",
        Preset.StandardWebhooks => "standard_webhooks.secret",
        Preset.Shopify => "shopify.secret",
        Preset.Slack => "slack.secret",
        _ => "preset",
    };
}
