using Grpc.Core;
using Grpc.Reflection.V1;
using WebhookConnect.Grpc.Server;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace WebhookConnect.Grpc.StandardServices.Reflection;

/// <summary>grpc.reflection.v1.ServerReflection: one response per request, in order, until the client half-closes.</summary>
public sealed class ReflectionServiceV1(GrpcServiceRegistry registry) : ServerReflection.ServerReflectionBase
{
    private readonly Lazy<ReflectionIndex> _index = new(() => new ReflectionIndex(registry));

    public override async Task ServerReflectionInfo(IAsyncStreamReader<ServerReflectionRequest> requestStream, IServerStreamWriter<ServerReflectionResponse> responseStream, ServerCallContext context)
    {
        while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            await responseStream.WriteAsync(Answer(requestStream.Current)).ConfigureAwait(false);
        }
    }

    internal ServerReflectionResponse Answer(ServerReflectionRequest request)
    {
        var index = _index.Value;
        var response = new ServerReflectionResponse { ValidHost = request.Host, OriginalRequest = request };
        switch (request.MessageRequestCase)
        {
            case ServerReflectionRequest.MessageRequestOneofCase.ListServices:
                var list = new ListServiceResponse();
                list.Service.AddRange(index.ServiceNames.Select(name => new ServiceResponse { Name = name }));
                response.ListServicesResponse = list;
                break;

            case ServerReflectionRequest.MessageRequestOneofCase.FileByFilename:
                SetFile(response, index.FindFileByName(request.FileByFilename), $"File '{request.FileByFilename}' not found.");
                break;

            case ServerReflectionRequest.MessageRequestOneofCase.FileContainingSymbol:
                SetFile(response, index.FindFileBySymbol(request.FileContainingSymbol), $"Symbol '{request.FileContainingSymbol}' not found.");
                break;

            case ServerReflectionRequest.MessageRequestOneofCase.FileContainingExtension:
                SetError(response, StatusCode.NotFound, $"Extension {request.FileContainingExtension.ContainingType}({request.FileContainingExtension.ExtensionNumber}) not found; this server's protos declare no extensions.");
                break;

            case ServerReflectionRequest.MessageRequestOneofCase.AllExtensionNumbersOfType:
                // proto3 files declare no extensions, so every known type has none.
                if (index.FindFileBySymbol(request.AllExtensionNumbersOfType) is null)
                {
                    SetError(response, StatusCode.NotFound, $"Type '{request.AllExtensionNumbersOfType}' not found.");
                }
                else
                {
                    response.AllExtensionNumbersResponse = new ExtensionNumberResponse { BaseTypeName = request.AllExtensionNumbersOfType };
                }

                break;

            default:
                SetError(response, StatusCode.Unimplemented, "Unknown reflection request.");
                break;
        }

        return response;
    }

    private static void SetFile(ServerReflectionResponse response, Google.Protobuf.Reflection.FileDescriptor? file, string notFound)
    {
        if (file is null)
        {
            SetError(response, StatusCode.NotFound, notFound);
            return;
        }

        var files = new FileDescriptorResponse();
        files.FileDescriptorProto.AddRange(ReflectionIndex.WithDependencies(file));
        response.FileDescriptorResponse = files;
    }

    private static void SetError(ServerReflectionResponse response, StatusCode code, string message) =>
        response.ErrorResponse = new ErrorResponse { ErrorCode = (int)code, ErrorMessage = message };
}

/// <summary>
/// grpc.reflection.v1alpha.ServerReflection, which older tools (and grpcurl's fallback) speak. Its messages are
/// wire-identical to v1, so each request is re-read as v1, answered once, and the answer re-read as v1alpha.
/// </summary>
public sealed class ReflectionServiceV1Alpha(ReflectionServiceV1 v1) : V1Alpha.ServerReflection.ServerReflectionBase
{
    public override async Task ServerReflectionInfo(IAsyncStreamReader<V1Alpha.ServerReflectionRequest> requestStream, IServerStreamWriter<V1Alpha.ServerReflectionResponse> responseStream, ServerCallContext context)
    {
        while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            var request = ServerReflectionRequest.Parser.ParseFrom(Google.Protobuf.MessageExtensions.ToByteString(requestStream.Current));
            var answer = v1.Answer(request);
            await responseStream.WriteAsync(V1Alpha.ServerReflectionResponse.Parser.ParseFrom(Google.Protobuf.MessageExtensions.ToByteString(answer))).ConfigureAwait(false);
        }
    }
}
