namespace WebhookConnect.QueueManager.Channels;

/// <summary>Why a channel operation was refused, independent of the transport that reports it.</summary>
public enum ChannelFailure
{
    /// <summary>A malformed request: a name, a value out of range, a missing secret.</summary>
    Invalid,
    NotFound,
    AlreadyExists,
    /// <summary>The request is well-formed but the channel's state forbids it (removing its last endpoint).</summary>
    Precondition,
    /// <summary>Concurrent writers kept changing the channel while this change was being applied.</summary>
    Contended,
}

/// <summary>A refused channel operation. The message is written for the operator: it names the field and the value.</summary>
public sealed class ChannelException(ChannelFailure failure, string message) : Exception(message)
{
    public ChannelFailure Failure { get; } = failure;

    public static ChannelException Invalid(string message) => new(ChannelFailure.Invalid, message);

    public static ChannelException ChannelNotFound(string channel) => new(ChannelFailure.NotFound, $"channel '{channel}' does not exist");
}
