using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Ingress.Publishing;

/// <summary>One unary Publish per request (<c>Ingress:PublishBatching=false</c>).</summary>
public sealed class UnaryPublisher(QueueManagerClient queue) : IQueuePublisher
{
    public async Task<QueueAnswer> PublishAsync(Message message)
    {
        try
        {
            var response = await queue.Client.PublishAsync(new PublishRequest { Message = message }, queue.Unary());
            return Errors.FromOutcome(response.Outcome, response.MessageId.Length > 0 ? response.MessageId : message.MessageId, message.Channel);
        }
        catch (RpcException ex)
        {
            return Errors.FromException(ex, message);
        }
    }
}
