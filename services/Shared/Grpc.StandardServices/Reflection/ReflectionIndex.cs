using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using WebhookConnect.Grpc.Server;

namespace WebhookConnect.Grpc.StandardServices.Reflection;

/// <summary>
/// What reflection can tell about this server: the mapped services, and every proto file they use with its
/// dependencies (well-known types included), indexed by file name and by fully-qualified symbol.
/// Built once, on first use, after all services have been mapped.
/// </summary>
internal sealed class ReflectionIndex
{
    private readonly Dictionary<string, FileDescriptor> _filesByName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FileDescriptor> _filesBySymbol = new(StringComparer.Ordinal);

    public ReflectionIndex(GrpcServiceRegistry registry)
    {
        ServiceNames = registry.Services.Select(s => s.Name).Order(StringComparer.Ordinal).ToArray();
        foreach (var service in registry.Services)
        {
            if (FindDescriptor(service.BindType) is { } descriptor)
            {
                AddFile(descriptor.File);
            }
        }
    }

    public IReadOnlyList<string> ServiceNames { get; }

    public FileDescriptor? FindFileByName(string name) => _filesByName.GetValueOrDefault(name);

    public FileDescriptor? FindFileBySymbol(string symbol) => _filesBySymbol.GetValueOrDefault(symbol.TrimStart('.'));

    /// <summary>The file followed by its transitive dependencies, each once, as serialized FileDescriptorProtos.</summary>
    public static IEnumerable<ByteString> WithDependencies(FileDescriptor file)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<FileDescriptor>();
        queue.Enqueue(file);
        while (queue.TryDequeue(out var current))
        {
            if (!seen.Add(current.Name))
            {
                continue;
            }

            yield return current.SerializedData;
            foreach (var dependency in current.Dependencies)
            {
                queue.Enqueue(dependency);
            }
        }
    }

    private static ServiceDescriptor? FindDescriptor(Type? bindType) =>
        bindType?.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as ServiceDescriptor;

    private void AddFile(FileDescriptor file)
    {
        if (!_filesByName.TryAdd(file.Name, file))
        {
            return;
        }

        foreach (var service in file.Services)
        {
            _filesBySymbol.TryAdd(service.FullName, file);
            foreach (var method in service.Methods)
            {
                _filesBySymbol.TryAdd(method.FullName, file);
            }
        }

        foreach (var message in file.MessageTypes)
        {
            AddMessage(message, file);
        }

        foreach (var enumType in file.EnumTypes)
        {
            _filesBySymbol.TryAdd(enumType.FullName, file);
        }

        foreach (var dependency in file.Dependencies)
        {
            AddFile(dependency);
        }
    }

    private void AddMessage(MessageDescriptor message, FileDescriptor file)
    {
        _filesBySymbol.TryAdd(message.FullName, file);
        foreach (var field in message.Fields.InDeclarationOrder())
        {
            _filesBySymbol.TryAdd(field.FullName, file);
        }

        foreach (var nested in message.NestedTypes)
        {
            AddMessage(nested, file);
        }

        foreach (var nestedEnum in message.EnumTypes)
        {
            _filesBySymbol.TryAdd(nestedEnum.FullName, file);
        }
    }
}
