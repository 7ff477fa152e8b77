using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Ingress.Publishing;

/// <summary>Queues one message through the queue-manager and says what became of it; never throws for queue errors.</summary>
public interface IQueuePublisher
{
    /// <remarks>Not cancellable by the sender going away: once a publish has started it runs to its deadline, so
    /// the answer (and the spool decision) never depends on the client.</remarks>
    Task<QueueAnswer> PublishAsync(Message message);
}
