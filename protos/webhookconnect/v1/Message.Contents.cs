using Google.Protobuf;

namespace WebhookConnect.Contracts.V1;

/// <summary>What the admin API calls a message's contents, said once for every service.</summary>
public sealed partial class Message
{
    /// <summary>Empties the message's contents, what <c>PERMISSION_READ_CONTENTS</c> guards (admin.proto,
    /// <c>Permission</c>): the body, the headers and the query string. Everything else (ids, times, the endpoint, the
    /// idempotency key) is metadata and stays.</summary>
    public void LeaveOutContents()
    {
        Body = ByteString.Empty;
        Headers.Clear();
        QueryString = "";
    }
}
