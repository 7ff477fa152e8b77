using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Health.V1;
using WebhookConnect.Grpc.Tests.Support;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// <c>MapGrpcStandardServices</c>: <c>grpc.health.v1</c> follows the readiness checks (as <c>/readyz</c>) for
/// <c>""</c> and every named service; reflection v1 and v1alpha list what the server maps.
/// </summary>
public sealed class HealthAndReflectionTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static readonly string[] MappedServices =
    [
        "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", GrpcTestServer.EchoServiceName,
    ];

    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task HealthIsServingForTheServerAndEachNamedServiceAndNotFoundForOthers()
    {
        using var channel = _server.CreateChannel();
        var health = new Health.HealthClient(channel);

        var server = await health.CheckAsync(new HealthCheckRequest()).ResponseAsync.WaitAsync(Patience);
        var echo = await health.CheckAsync(new HealthCheckRequest { Service = GrpcTestServer.EchoServiceName }).ResponseAsync.WaitAsync(Patience);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await health.CheckAsync(new HealthCheckRequest { Service = "no.such.Service" }).ResponseAsync.WaitAsync(Patience));

        Assert.Equal(ServingStatus.Serving, server.Status);
        Assert.Equal(ServingStatus.Serving, echo.Status);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task AFailingReadinessCheckMakesEveryHealthEntryNotServingUntilItRecovers()
    {
        using var channel = _server.CreateChannel();
        var health = new Health.HealthClient(channel);

        _server.Readiness.Ready = false;
        var server = await health.CheckAsync(new HealthCheckRequest()).ResponseAsync.WaitAsync(Patience);
        var echo = await health.CheckAsync(new HealthCheckRequest { Service = GrpcTestServer.EchoServiceName }).ResponseAsync.WaitAsync(Patience);
        _server.Readiness.Ready = true;
        var recovered = await health.CheckAsync(new HealthCheckRequest { Service = GrpcTestServer.EchoServiceName }).ResponseAsync.WaitAsync(Patience);

        Assert.Equal(ServingStatus.NotServing, server.Status);
        Assert.Equal(ServingStatus.NotServing, echo.Status);
        Assert.Equal(ServingStatus.Serving, recovered.Status);
    }

    [Fact]
    public async Task AWatcherIsToldWhenReadinessFailsAndRecovers()
    {
        using var channel = _server.CreateChannel();
        var health = new Health.HealthClient(channel);
        using var watch = health.Watch(new HealthCheckRequest { Service = GrpcTestServer.EchoServiceName });
        var seen = new List<ServingStatus>();

        // The health publisher runs every 5 s (GrpcServerDefaults); each change arrives within one period.
        await NextStatusAsync(watch, seen, ServingStatus.Serving);
        _server.Readiness.Ready = false;
        await NextStatusAsync(watch, seen, ServingStatus.NotServing);
        _server.Readiness.Ready = true;
        await NextStatusAsync(watch, seen, ServingStatus.Serving);

        // Repeats of an unchanged status are allowed; the changes themselves come in this order and no other.
        Assert.Equal([ServingStatus.Serving, ServingStatus.NotServing, ServingStatus.Serving], seen.Where((s, i) => i == 0 || s != seen[i - 1]));
    }

    [Fact]
    public async Task ReflectionV1ListsTheMappedServicesAndNamesEachAnswersRequestAndFile()
    {
        using var channel = _server.CreateChannel();
        using var call = new V1.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { FileContainingSymbol = GrpcTestServer.EchoServiceName });
        await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { FileByFilename = "grpc/health/v1/health.proto" });
        await call.RequestStream.CompleteAsync();
        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync().AsTask().WaitAsync(Patience);

        Assert.Equal(MappedServices, responses[0].ListServicesResponse.Service.Select(s => s.Name).Order(StringComparer.Ordinal));
        // reflection.proto: every answer carries the request it answers.
        Assert.Equal("", responses[0].OriginalRequest?.ListServices);
        Assert.Equal(GrpcTestServer.EchoServiceName, responses[1].OriginalRequest?.FileContainingSymbol);
        var echo = FileDescriptorProto.Parser.ParseFrom(responses[1].FileDescriptorResponse.FileDescriptorProto[0]);
        Assert.Equal("webhookconnect/testing/v1/echo.proto", echo.Name);
        // Files are named by their real path, as grpcurl and grpc-js expect (Grpc.HealthCheck registers "health.proto").
        var health = FileDescriptorProto.Parser.ParseFrom(responses[2].FileDescriptorResponse.FileDescriptorProto[0]);
        Assert.Equal("grpc/health/v1/health.proto", health.Name);
    }

    [Fact]
    public async Task ReflectionV1AlphaListsTheSameServices()
    {
        using var channel = _server.CreateChannel();
        using var call = new V1Alpha.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync().AsTask().WaitAsync(Patience);

        Assert.Equal(MappedServices, Assert.Single(responses).ListServicesResponse.Service.Select(s => s.Name).Order(StringComparer.Ordinal));
        Assert.Equal(V1Alpha.ServerReflectionRequest.MessageRequestOneofCase.ListServices, responses[0].OriginalRequest?.MessageRequestCase);
    }

    /// <summary>Reads the watch until <paramref name="expected"/> arrives (a repeat of the previous status may come first).</summary>
    private static async Task NextStatusAsync(AsyncServerStreamingCall<HealthCheckResponse> watch, List<ServingStatus> seen, ServingStatus expected)
    {
        using var deadline = new CancellationTokenSource(Patience);
        while (await watch.ResponseStream.MoveNext(deadline.Token))
        {
            seen.Add(watch.ResponseStream.Current.Status);
            if (watch.ResponseStream.Current.Status == expected)
            {
                return;
            }
        }

        Assert.Fail($"the watch ended before reporting {expected}; it reported {string.Join(", ", seen)}");
    }
}
