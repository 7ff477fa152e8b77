using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.TestKit.Services;

/// <summary>Builds and publishes messages as ingress would.</summary>
public static class TestMessages
{
    public static Message NewMessage(string channel, string body, string? id = null, string idempotencyKey = "", DateTimeOffset? receivedAt = null)
    {
        var message = new Message
        {
            MessageId = id ?? "msg_" + Guid.CreateVersion7().ToString("N"),
            Channel = channel,
            EndpointId = "ep",
            ReceivedAt = Timestamp.FromDateTimeOffset(receivedAt ?? DateTimeOffset.UtcNow),
            Body = ByteString.CopyFromUtf8(body),
            ContentType = "application/json",
            IdempotencyKey = idempotencyKey,
        };
        message.Headers.Add(new Header { Name = "Content-Type", Value = ByteString.CopyFromUtf8("application/json") });
        message.Headers.Add(new Header { Name = "X-Repeat", Value = ByteString.CopyFromUtf8("a") });
        message.Headers.Add(new Header { Name = "X-Repeat", Value = ByteString.CopyFrom(0xff, 0x80) });
        return message;
    }

    public static async Task<PublishResponse> PublishAsync(this InternalApi queueManager, Message message) =>
        await new PublishService.PublishServiceClient(queueManager.Channel).PublishAsync(new PublishRequest { Message = message });

    /// <summary>Publishes <paramref name="count"/> messages with bodies "{prefix}-0" … and returns them in order.</summary>
    public static async Task<List<Message>> PublishManyAsync(this InternalApi channel, string channelName, int count, string prefix = "m")
    {
        var messages = new List<Message>(count);
        for (var i = 0; i < count; i++)
        {
            var message = NewMessage(channelName, $"{prefix}-{i}");
            await channel.PublishAsync(message);
            messages.Add(message);
        }

        return messages;
    }
}
