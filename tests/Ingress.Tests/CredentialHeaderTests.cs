using System.Text;
using Google.Protobuf;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Tests.Support;
using WebhookConnect.TestKit;
using SenderVerification = WebhookConnect.Contracts.V1.Verification;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// Issue 20, finding 1 (ingress side): a header that carried a static credential is not stored once verification
/// has used it, since whoever can read the stored message (a read-only admin token, the local target) could
/// otherwise forge webhooks with it. Every other header is stored byte for byte.
/// </summary>
public sealed class CredentialHeaderTests(IngressStack stack) : IClassFixture<IngressStack>
{
    private const string Token = "endpoint-secret-token-0123456789";
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"event\":\"order.created\",\"id\":42}");

    [Fact]
    public async Task TheAuthorizationHeaderABearerOrBasicPresetVerifiedIsNotStoredWhileEveryOtherHeaderIsKeptByteForByte()
    {
        var channel = IngressStack.UniqueName("credential");
        await stack.CreateChannelAsync(
            channel,
            null,
            new EndpointConfig { Id = channel + "-open", Verification = TestChannels.Unverified },
            new EndpointConfig { Id = channel + "-bearer", Verification = new SenderVerification { Bearer = new() { Token = Token } } },
            new EndpointConfig { Id = channel + "-basic", Verification = new SenderVerification { Basic = new() { Username = "hook", Password = Token } } },
            new EndpointConfig { Id = channel + "-gitlab", Verification = new SenderVerification { Bearer = new() { Token = Token, Header = "X-Gitlab-Token" } } });
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("hook:" + Token));

        // The same request to the open endpoint (preset none: nothing verified, nothing dropped) is the reference.
        var bearerStored = await SendAsync(channel, "bearer", ("Authorization", "Bearer " + Token));
        var bearerReference = await SendAsync(channel, "open", ("Authorization", "Bearer " + Token));
        var basicStored = await SendAsync(channel, "basic", ("Authorization", basic));
        var basicReference = await SendAsync(channel, "open", ("Authorization", basic));
        // A bearer preset reading its own header drops that header, and only that one: this sender's unrelated
        // Authorization header was not the credential the endpoint checked.
        var gitlabStored = await SendAsync(channel, "gitlab", ("X-Gitlab-Token", Token), ("Authorization", "Bearer not-checked"));
        var gitlabReference = await SendAsync(channel, "open", ("X-Gitlab-Token", Token), ("Authorization", "Bearer not-checked"));

        Assert.Equal(Without(bearerReference, "Authorization"), Entries(bearerStored));
        Assert.Equal(Without(basicReference, "Authorization"), Entries(basicStored));
        Assert.Equal(Without(gitlabReference, "X-Gitlab-Token"), Entries(gitlabStored));
        Assert.DoesNotContain(Entries(bearerStored), h => h.Name.Equals("Authorization", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(Entries(basicStored), h => h.Name.Equals("Authorization", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(Entries(gitlabStored), h => h.Name == "Authorization" && h.Value == "Bearer not-checked");
        // The reference kept the credential, so the comparisons above did drop exactly one header.
        Assert.Equal(Entries(bearerReference).Count - 1, Entries(bearerStored).Count);
        Assert.Equal(Entries(basicReference).Count - 1, Entries(basicStored).Count);
        Assert.Equal(Entries(gitlabReference).Count - 1, Entries(gitlabStored).Count);
        // Nothing of the secret is left anywhere in the stored envelopes.
        foreach (var stored in new[] { bearerStored, basicStored, gitlabStored })
        {
            Assert.DoesNotContain(Token, Encoding.Latin1.GetString(stored.ToByteArray()), StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes("hook:" + Token)), Encoding.Latin1.GetString(stored.ToByteArray()), StringComparison.Ordinal);
            Assert.Equal(Body, stored.Body.ToByteArray());
        }
    }

    /// <summary>Posts <see cref="Body"/> with the given headers and a fixed set of others (a repeated name, bytes
    /// outside ASCII) over raw HTTP/1.1, and returns the message as queued.</summary>
    private async Task<Message> SendAsync(string channel, string endpoint, params (string Name, string Value)[] credential)
    {
        (string, byte[])[] headers =
        [
            .. credential.Select(h => RawHttp.Header(h.Name, h.Value)),
            RawHttp.Header("Content-Type", "application/json"),
            RawHttp.Header("X-Repeat", "a"),
            ("X-Repeat", [0xff, 0x80, 0x41]),
            RawHttp.Header("X-Request-Id", "req-7"),
            RawHttp.Header("User-Agent", "credential-test/1.0"),
        ];

        var status = await RawHttp.PostAsync(stack.Ingress.Port, $"/webhook/{channel}-{endpoint}", Body, headers);

        Assert.StartsWith("HTTP/1.1 200", status, StringComparison.Ordinal);
        var messages = await stack.PeekAsync(channel);
        return messages.Last(m => m.EndpointId == $"{channel}-{endpoint}");
    }

    private static List<(string Name, string Value)> Entries(Message message) =>
        [.. message.Headers.Select(h => (h.Name, Encoding.Latin1.GetString(h.Value.Span)))];

    private static List<(string Name, string Value)> Without(Message message, string name) =>
        [.. Entries(message).Where(h => !h.Name.Equals(name, StringComparison.OrdinalIgnoreCase))];
}
