using System.Diagnostics;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

public sealed class TracePropagationTests
{
    [Fact]
    public async Task TheCallersTraceContinuesInTheServerHandler()
    {
        // Listening makes both HttpClient (traceparent out) and ASP.NET Core (traceparent in) create activities,
        // as the OpenTelemetry providers of our service defaults do.
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "WebhookConnect.Tests" or "System.Net.Http" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using var source = new ActivitySource("WebhookConnect.Tests");
        await using var server = await GrpcTestServer.StartAsync();
        using var channel = server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        using var caller = source.StartActivity("webhook received")!;
        var response = await client.EchoAsync(new EchoRequest { Text = "trace" }).ResponseAsync.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(caller.TraceId.ToHexString(), response.Text);
    }
}
