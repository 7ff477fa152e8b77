using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Core.Interceptors;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace WebhookConnect.ServiceDefaults.Grpc;

/// <summary>
/// Makes Grpc.Reflection's answers what reflection.proto and clients that check them (the @grpc/grpc-js interop
/// checks, tests/interop) expect:
/// <list type="bullet">
/// <item><c>original_request</c> is filled in every answer (Grpc.Reflection leaves it empty). The service answers
/// each request before it reads the next, so the request last read is the one being answered.</item>
/// <item>Grpc.HealthCheck registers grpc/health/v1/health.proto under the bare name <c>health.proto</c>; answers
/// carry the real path, and <c>file_by_filename</c> accepts it.</item>
/// </list>
/// </summary>
internal sealed class ReflectionConformance : Interceptor
{
    private static readonly Dictionary<string, string> RealNames = new(StringComparer.Ordinal)
    {
        ["health.proto"] = "grpc/health/v1/health.proto",
    };

    private static readonly Dictionary<string, string> RegisteredNames = RealNames.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (!context.Method.StartsWith("/grpc.reflection.", StringComparison.Ordinal))
        {
            return continuation(requestStream, responseStream, context);
        }

        var reader = new Reader<TRequest>(requestStream);
        return continuation(reader, new Writer<TRequest, TResponse>(reader, responseStream), context);
    }

    private static TRequest Registered<TRequest>(TRequest request)
    {
        switch (request)
        {
            case V1.ServerReflectionRequest v1 when RegisteredNames.TryGetValue(v1.FileByFilename, out var name):
                var copy = v1.Clone();
                copy.FileByFilename = name;
                return (TRequest)(object)copy;
            case V1Alpha.ServerReflectionRequest alpha when RegisteredNames.TryGetValue(alpha.FileByFilename, out var name):
                var alphaCopy = alpha.Clone();
                alphaCopy.FileByFilename = name;
                return (TRequest)(object)alphaCopy;
            default:
                return request;
        }
    }

    private static void RenameFiles(IList<ByteString> files)
    {
        for (var i = 0; i < files.Count; i++)
        {
            var file = FileDescriptorProto.Parser.ParseFrom(files[i]);
            var renamed = false;
            if (RealNames.TryGetValue(file.Name, out var real))
            {
                file.Name = real;
                renamed = true;
            }

            for (var d = 0; d < file.Dependency.Count; d++)
            {
                if (RealNames.TryGetValue(file.Dependency[d], out var dependency))
                {
                    file.Dependency[d] = dependency;
                    renamed = true;
                }
            }

            if (renamed)
            {
                files[i] = file.ToByteString();
            }
        }
    }

    private sealed class Reader<TRequest>(IAsyncStreamReader<TRequest> inner) : IAsyncStreamReader<TRequest>
    {
        /// <summary>The request as the client sent it.</summary>
        public TRequest Original => inner.Current;

        public TRequest Current { get; private set; } = default!;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!await inner.MoveNext(cancellationToken))
            {
                return false;
            }

            Current = Registered(inner.Current);
            return true;
        }
    }

    private sealed class Writer<TRequest, TResponse>(Reader<TRequest> requests, IServerStreamWriter<TResponse> inner) : IServerStreamWriter<TResponse>
    {
        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(TResponse message)
        {
            switch (message, requests.Original)
            {
                case (V1.ServerReflectionResponse response, V1.ServerReflectionRequest request):
                    response.OriginalRequest = request;
                    if (response.FileDescriptorResponse is { } v1Files)
                    {
                        RenameFiles(v1Files.FileDescriptorProto);
                    }

                    break;
                case (V1Alpha.ServerReflectionResponse response, V1Alpha.ServerReflectionRequest request):
                    response.OriginalRequest = request;
                    if (response.FileDescriptorResponse is { } alphaFiles)
                    {
                        RenameFiles(alphaFiles.FileDescriptorProto);
                    }

                    break;
            }

            return inner.WriteAsync(message);
        }
    }
}
