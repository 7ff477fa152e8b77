using Google.Protobuf;
using Google.Protobuf.Reflection;
using WebhookConnect.Contracts.Admin.V1;
using AdminServiceDescriptor = WebhookConnect.Contracts.Admin.V1.AdminService;
using ProtoOptions = WebhookConnect.Contracts.Admin.V1.AdminExtensions;

namespace WebhookConnect.Admin.Authentication;

/// <summary>
/// What each AdminService method needs, read once from admin.proto's <c>(required_permission)</c> method option and
/// <c>(requires_contents_when_set)</c> field option: the one declaration authentication, both transports and the
/// audit derive from. A method without the option needs <see cref="Permission.Unspecified"/>, which no token holds.
/// </summary>
public static class AdminPermissions
{
    private static readonly Dictionary<string, Permission> Required = AdminServiceDescriptor.Descriptor.Methods.ToDictionary(
        m => m.Name,
        m => m.GetOptions()?.GetExtension(ProtoOptions.RequiredPermission) ?? Permission.Unspecified,
        StringComparer.Ordinal);

    private static readonly Dictionary<string, FieldDescriptor[]> ContentSwitches = AdminServiceDescriptor.Descriptor.Methods.ToDictionary(
        m => m.Name,
        m => m.InputType.Fields.InDeclarationOrder()
            .Where(f => f.FieldType is FieldType.Bool or FieldType.String && !f.IsRepeated
                && f.GetOptions()?.GetExtension(ProtoOptions.RequiresContentsWhenSet) == true)
            .ToArray(),
        StringComparer.Ordinal);

    /// <summary>The permission <paramref name="method"/> declares (Unspecified for an unknown method).</summary>
    public static Permission Of(string method) => Required.GetValueOrDefault(method, Permission.Unspecified);

    /// <summary>
    /// The permission this call needs: the method's own, raised to <see cref="Permission.ReadContents"/> when a
    /// contents switch is set in <paramref name="request"/>: a bool (<c>include_body</c>) that is true, or a string
    /// (<c>ListMessagesRequest.header_value</c>, a header's value being contents) that is not empty.
    /// </summary>
    public static Permission For(string method, IMessage? request)
    {
        var permission = Of(method);
        if (permission == Permission.Read && request is not null && ContentSwitches.TryGetValue(method, out var switches)
            && switches.Any(f => f.Accessor.GetValue(request) is true or string { Length: > 0 }))
        {
            return Permission.ReadContents;
        }

        return permission;
    }

    /// <summary>The contents switches set in <paramref name="request"/>, for a refusal: <c>include_body</c>, <c>header_value</c>.</summary>
    public static string ContentsSwitchesSet(string method, IMessage? request) =>
        request is null ? "" : string.Join(" and ", ContentSwitches.GetValueOrDefault(method, [])
            .Where(f => f.Accessor.GetValue(request) is true or string { Length: > 0 })
            .Select(f => f.Name));

    private static readonly HashSet<string> CarryMessages = AdminServiceDescriptor.Descriptor.Methods
        .Where(m => Carries(m.OutputType, Contracts.V1.Message.Descriptor, []))
        .Select(m => m.Name)
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// True when the method's responses can carry message contents (bodies, headers), for some caller: it needs the
    /// contents permission, has a contents switch, or its response carries envelopes whatever the request says
    /// (GetMessage: contents for a token that may read them, metadata for the others).
    /// </summary>
    public static bool MayReturnContents(string method) =>
        Of(method) == Permission.ReadContents || ContentSwitches.GetValueOrDefault(method, []).Length > 0 || CarryMessages.Contains(method);

    private static bool Carries(MessageDescriptor type, MessageDescriptor wanted, HashSet<string> seen) =>
        type.FullName == wanted.FullName
        || (seen.Add(type.FullName) && type.Fields.InDeclarationOrder().Any(f => f.FieldType == FieldType.Message && Carries(f.MessageType, wanted, seen)));

    /// <summary>The name operators see in refusals and docs: <c>read</c>, <c>read_contents</c>, <c>write</c>.</summary>
    public static string Name(Permission permission) => permission switch
    {
        Permission.Read => "read",
        Permission.ReadContents => "read_contents",
        Permission.Write => "write",
        _ => "unspecified",
    };
}
