using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using WebhookConnect.Console.Tests.Support;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Console.Tests;

/// <summary>
/// The console's message-history views (issue 17) in headless chromium: the live tail, a message's detail with its
/// delivery record, resend, and the history list with its filters, against the real services.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class ConsoleHistoryTests(ConsoleStack console)
{
    [Fact]
    public async Task APostedWebhookAppearsInTheLiveTailOpensWithItsDeliveryRecordAndAResendDeliversItAgainAsSeries1()
    {
        console.Target.Answer = _ => new TargetAnswer(200);
        await using var page = await console.OpenAsync();
        await page.SignInAsync(ScenarioStack.AdminToken);
        await page.GoAsync("#/channels/demo");
        await page.UntilAsync("() => document.querySelector('#tail-toggle') && document.querySelector('#tail').closest('section').innerText.includes('live')", "the tail to be live");

        // Markup in a body is shown as text in the tail and in the detail, and nothing in it runs.
        const string body = """{"order":42,"note":"<b>bold</b><img src=x onerror=\"window.__pwned=1;alert(1)\">"}""";
        var id = await PostAsync(body);
        var accepted = $"#tail tr[data-message-id='{id}'][data-kind='accepted']";
        await page.VisibleAsync(accepted, "the webhook's 'accepted' line in the tail");
        await page.UntilAsync(
            "id => [...document.querySelectorAll(`#tail tr[data-message-id='${id}'][data-kind='settled']`)].some(r => /acked · HTTP 200/.test(r.innerText))",
            "the webhook's 'settled: acked, HTTP 200' line in the tail", id);
        Assert.Contains(body, await page.TextAsync(accepted), StringComparison.Ordinal);
        // The history's first page follows new messages without a reload.
        await page.UntilAsync(Listed, "the webhook in the history, acked", id, "acked");
        await page.ScreenshotAsync("tail");

        await page.Page.ClickAsync($"{accepted} a");
        await page.VisibleAsync("#body", "the message's body");
        Assert.Equal(body, await page.Page.EvaluateExpressionAsync<string>("document.querySelector('#body').textContent"));
        await page.UntilAsync("() => Series().length === 1 && Series()[0].join('|') === '0|1|acked|200'".Replace("Series()", DeliveryRows, StringComparison.Ordinal), "one acked attempt (series 0, HTTP 200) in the delivery record");

        await page.Page.ClickAsync("#resend");
        await page.UntilAsync("() => document.querySelector('#status').innerText === 'Queued again as resend 1.'", "the resend's confirmation");
        await page.UntilAsync("() => Series().length === 2 && Series()[1].join('|') === '1|1|acked|200'".Replace("Series()", DeliveryRows, StringComparison.Ordinal), "the resend's acked attempt (series 1, HTTP 200) in the delivery record");
        await page.ScreenshotAsync("message");

        var deliveries = console.Target.For(id);
        Assert.Equal(2, deliveries.Count);
        Assert.Equal([null, "1"], deliveries.Select(d => d.Header("X-Webhook-Resend")));
        Assert.All(deliveries, d => Assert.Equal(body, Encoding.UTF8.GetString(d.Body)));
        Assert.Equal(0, await page.Page.EvaluateExpressionAsync<int>("document.querySelectorAll('#view img').length"));
        Assert.Equal("undefined", await page.Page.EvaluateExpressionAsync<string>("typeof window.__pwned"));
        Assert.Empty(page.Dialogs);
    }

    [Fact]
    public async Task TheHistoryFiltersShowExactlyTheMatchingMessages()
    {
        console.Target.Answer = _ => new TargetAnswer(200);
        var id = await PostAsync("{\"history\":\"filters\"}");
        await Eventually.UntilAsync(() => console.Target.For(id).Count == 1, ConsoleStack.Patience, "the webhook delivered");

        await using var page = await console.OpenAsync();
        await page.SignInAsync(ConsoleStack.ContentsToken);
        await page.GoAsync("#/channels/demo");
        await page.UntilAsync(Listed, "the message in the history, acked", id, "acked");

        await page.Page.SelectAsync("#filter-state", "MESSAGE_STATE_DEAD_LETTERED");
        await page.Page.ClickAsync("#history-filters button[type=submit]");
        await page.UntilAsync("id => !document.querySelector('.history').innerText.includes(id) && document.querySelector('.history table')", "the acked message filtered out", id);

        await page.Page.SelectAsync("#filter-state", "MESSAGE_STATE_ACKED");
        await page.Page.TypeAsync("#filter-endpoint", "demo");
        await page.Page.ClickAsync("#history-filters button[type=submit]");
        await page.UntilAsync(Listed, "the message again with state acked and endpoint demo", id, "acked");

        await page.Page.EvaluateExpressionAsync("document.querySelector('#filter-after').value = '2099-01-01T00:00:00'");
        await page.Page.ClickAsync("#history-filters button[type=submit]");
        await page.UntilAsync("() => document.querySelector('.history').innerText.includes('No message matches.')", "no message received after 2099");
        await page.ScreenshotAsync("history-filters");
    }

    /// <summary>The delivery record's rows as [series, attempt, outcome, target status].</summary>
    private const string DeliveryRows =
        "[...document.querySelector('#attempts-title').parentElement.querySelectorAll('tbody tr')].filter(r => r.cells.length === 9).map(r => [0, 1, 5, 6].map(i => r.cells[i].innerText))";

    private const string Listed =
        "(id, state) => [...document.querySelectorAll('.history tbody tr')].some(r => r.cells.length === 6 && r.cells[1].innerText === id && r.cells[3].innerText === state)";

    private async Task<string> PostAsync(string body)
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await console.Stack.Ingress.Http.PostAsync(new Uri("/webhook/demo", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("message_id").GetString()!;
    }
}
