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
            .Where(f => f.FieldType == FieldType.Bool && f.GetOptions()?.GetExtension(ProtoOptions.RequiresContentsWhenSet) == true)
            .ToArray(),
        StringComparer.Ordinal);

    /// <summary>The permission <paramref name="method"/> declares (Unspecified for an unknown method).</summary>
    public static Permission Of(string method) => Required.GetValueOrDefault(method, Permission.Unspecified);

    /// <summary>
    /// The permission this call needs: the method's own, raised to <see cref="Permission.ReadContents"/> when a
    /// contents switch (<c>include_body</c>) is set in <paramref name="request"/>.
    /// </summary>
    public static Permission For(string method, IMessage? request)
    {
        var permission = Of(method);
        if (permission == Permission.Read && request is not null && ContentSwitches.TryGetValue(method, out var switches)
            && switches.Any(f => f.Accessor.GetValue(request) is true))
        {
            return Permission.ReadContents;
        }

        return permission;
    }

    /// <summary>True when the method's responses can carry message contents (bodies, headers), for some caller.</summary>
    public static bool MayReturnContents(string method) =>
        Of(method) == Permission.ReadContents || ContentSwitches.GetValueOrDefault(method, []).Length > 0;

    /// <summary>The name operators see in refusals and docs: <c>read</c>, <c>read_contents</c>, <c>write</c>.</summary>
    public static string Name(Permission permission) => permission switch
    {
        Permission.Read => "read",
        Permission.ReadContents => "read_contents",
        Permission.Write => "write",
        _ => "unspecified",
    };
}
