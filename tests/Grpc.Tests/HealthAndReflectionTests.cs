using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1;
using Microsoft.Extensions.DependencyInjection;
using WebhookConnect.Grpc.StandardServices.Health;
using WebhookConnect.Grpc.Tests.Support;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace WebhookConnect.Grpc.Tests;

public sealed class HealthAndReflectionTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task HealthCheckReportsServerAndServicesServingAndUnknownAsNotFound()
    {
        using var channel = _server.CreateChannel();
        var health = new Health.HealthClient(channel);

        var server = await health.CheckAsync(new HealthCheckRequest());
        var echo = await health.CheckAsync(new HealthCheckRequest { Service = "webhookconnect.testing.v1.EchoService" });
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await health.CheckAsync(new HealthCheckRequest { Service = "no.such.Service" }));

        Assert.Equal(ServingStatus.Serving, server.Status);
        Assert.Equal(ServingStatus.Serving, echo.Status);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task HealthWatchSendsEveryStatusChange()
    {
        using var channel = _server.CreateChannel();
        var health = new Health.HealthClient(channel);
        var service = _server.Services.GetRequiredService<HealthService>();

        using var watch = health.Watch(new HealthCheckRequest { Service = "custom" });
        var stream = watch.ResponseStream;
        Assert.True(await stream.MoveNext(CancellationToken.None).WaitAsync(Patience));
        Assert.Equal(ServingStatus.ServiceUnknown, stream.Current.Status);

        service.SetStatus("custom", ServingStatus.NotServing);
        Assert.True(await stream.MoveNext(CancellationToken.None).WaitAsync(Patience));
        Assert.Equal(ServingStatus.NotServing, stream.Current.Status);

        service.SetStatus("custom", ServingStatus.Serving);
        Assert.True(await stream.MoveNext(CancellationToken.None).WaitAsync(Patience));
        Assert.Equal(ServingStatus.Serving, stream.Current.Status);
    }

    [Fact]
    public async Task ReflectionListsEveryMappedService()
    {
        var responses = await AskV1(new ServerReflectionRequest { ListServices = "" });

        Assert.Equal(
            ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "webhookconnect.testing.v1.EchoService"],
            responses.Single().ListServicesResponse.Service.Select(s => s.Name));
    }

    [Fact]
    public async Task ReflectionFindsTheFileOfASymbolWithItsWellKnownTypeDependency()
    {
        var response = (await AskV1(new ServerReflectionRequest { FileContainingSymbol = "webhookconnect.testing.v1.EchoService" })).Single();

        var files = response.FileDescriptorResponse.FileDescriptorProto.Select(FileDescriptorProto.Parser.ParseFrom).ToArray();
        Assert.Equal(["webhookconnect/testing/v1/echo.proto", "google/protobuf/timestamp.proto"], files.Select(f => f.Name));
        var service = files[0].Service.Single();
        Assert.Equal("EchoService", service.Name);
        Assert.Equal(["Echo", "Collect", "Repeat", "Chat", "GetObservations"], service.Method.Select(m => m.Name));
    }

    [Theory]
    [InlineData("webhookconnect.testing.v1.EchoService.Chat", "webhookconnect/testing/v1/echo.proto")]
    [InlineData("webhookconnect.testing.v1.EchoRequest", "webhookconnect/testing/v1/echo.proto")]
    [InlineData("grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto")]
    [InlineData("google.protobuf.Timestamp", "google/protobuf/timestamp.proto")]
    public async Task ReflectionFindsMethodsMessagesAndEnums(string symbol, string file)
    {
        var response = (await AskV1(new ServerReflectionRequest { FileContainingSymbol = symbol })).Single();

        Assert.Equal(file, FileDescriptorProto.Parser.ParseFrom(response.FileDescriptorResponse.FileDescriptorProto[0]).Name);
    }

    [Fact]
    public async Task ReflectionAnswersFileByNameAndNotFoundPerRequestOnOneStream()
    {
        var responses = await AskV1(
            new ServerReflectionRequest { FileByFilename = "grpc/health/v1/health.proto" },
            new ServerReflectionRequest { FileContainingSymbol = "no.such.Symbol" },
            new ServerReflectionRequest { FileByFilename = "nope.proto" });

        Assert.Equal(3, responses.Count);
        Assert.Equal("grpc/health/v1/health.proto", FileDescriptorProto.Parser.ParseFrom(responses[0].FileDescriptorResponse.FileDescriptorProto[0]).Name);
        Assert.Equal((int)StatusCode.NotFound, responses[1].ErrorResponse.ErrorCode);
        Assert.Equal("no.such.Symbol", responses[1].OriginalRequest.FileContainingSymbol);
        Assert.Equal((int)StatusCode.NotFound, responses[2].ErrorResponse.ErrorCode);
    }

    [Fact]
    public async Task ReflectionV1AlphaGivesTheSameAnswers()
    {
        using var channel = _server.CreateChannel();
        var client = new V1Alpha.ServerReflection.ServerReflectionClient(channel);
        using var call = client.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { FileContainingSymbol = "grpc.health.v1.Health" });
        await call.RequestStream.CompleteAsync();
        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync().AsTask().WaitAsync(Patience);

        Assert.Contains("grpc.reflection.v1alpha.ServerReflection", responses[0].ListServicesResponse.Service.Select(s => s.Name));
        Assert.Equal("grpc/health/v1/health.proto", FileDescriptorProto.Parser.ParseFrom(responses[1].FileDescriptorResponse.FileDescriptorProto[0]).Name);
    }

    private async Task<List<ServerReflectionResponse>> AskV1(params ServerReflectionRequest[] requests)
    {
        using var channel = _server.CreateChannel();
        var client = new ServerReflection.ServerReflectionClient(channel);
        using var call = client.ServerReflectionInfo();
        foreach (var request in requests)
        {
            await call.RequestStream.WriteAsync(request);
        }

        await call.RequestStream.CompleteAsync();
        return await call.ResponseStream.ReadAllAsync().ToListAsync().AsTask().WaitAsync(Patience);
    }
}
