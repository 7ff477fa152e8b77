using System.Net;
using System.Text;
using WebhookConnect.EchoTarget;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests;

/// <summary>
/// The demo connector's target as the README walkthrough uses it: one line per delivery, <c>PUT /status</c> to choose
/// the answer, and a readiness path that is not a delivery. A real Kestrel server on a free port.
/// </summary>
public sealed class EchoTargetTests
{
    [Fact]
    public async Task EachDeliveryIsOneLineAndPutStatusChangesTheAnswerUntilSetBack()
    {
        var output = new StringWriter();
        var port = FreePort.Next();
        await using var app = Echo.Build(port, output);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await DeliverAsync(http, "m-1", """{"a":1}""")).StatusCode);
        using (var set = await http.PutAsync("/status", new StringContent("503")))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await DeliverAsync(http, "m-2", "x")).StatusCode);
        using (var bad = await http.PutAsync("/status", new StringContent("teapot")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("the body must be an HTTP status code between 200 and 599, got 'teapot'\n", await bad.Content.ReadAsStringAsync());
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await DeliverAsync(http, "m-3", "y")).StatusCode);
        await http.PutAsync("/status", new StringContent("200"));
        Assert.Equal(HttpStatusCode.OK, (await DeliverAsync(http, "m-4", "z")).StatusCode);

        Assert.Equal(
            [
                """POST /webhooks channel=demo endpoint=demo message_id=m-1 attempt=1 7 bytes: {"a":1}""",
                "answering 503 to every delivery from now on",
                "POST /webhooks channel=demo endpoint=demo message_id=m-2 attempt=1 1 bytes: x → answered 503",
                "POST /webhooks channel=demo endpoint=demo message_id=m-3 attempt=1 1 bytes: y → answered 503",
                "answering 200 to every delivery from now on",
                "POST /webhooks channel=demo endpoint=demo message_id=m-4 attempt=1 1 bytes: z",
            ],
            output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void AnEchoPortThatIsNotAPortIsRefusedByName()
    {
        Assert.Equal(8099, EchoSettings.Port(null));
        Assert.Equal(1234, EchoSettings.Port("1234"));
        Assert.Equal("ECHO_PORT = '70000' is not a port (1-65535)", Assert.Throws<ArgumentException>(() => EchoSettings.Port("70000")).Message);
    }

    private static Task<HttpResponseMessage> DeliverAsync(HttpClient http, string messageId, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Webhook-Channel", "demo");
        request.Headers.Add("X-Webhook-Endpoint", "demo");
        request.Headers.Add("X-Webhook-Message-Id", messageId);
        request.Headers.Add("X-Webhook-Attempt", "1");
        return http.SendAsync(request);
    }
}
