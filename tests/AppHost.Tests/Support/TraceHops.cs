namespace WebhookConnect.AppHost.Tests.Support;

/// <summary>
/// The spans of one demo webhook (docs/observability.md, "One trace per webhook"), each found by what it is, so the
/// parent links can then be asserted: ingress's POST → queue-manager's Publish; ingress's POST → deliver (queue-manager)
/// → process (connector) → POST to the echo target; deliver → ack.
/// </summary>
public static class TraceHops
{
    public const string SenderSpanId = "00f067aa0ba902b7";

    public static bool All(List<DashboardSpan> spans) =>
        IngressPost(spans) is not null && Publish(spans) is not null && Deliver(spans) is not null && Process(spans) is not null &&
        TargetPost(spans) is not null && Ack(spans) is not null;

    public static void AssertChain(List<DashboardSpan> spans)
    {
        var post = IngressPost(spans)!;
        var deliver = Deliver(spans)!;
        var process = Process(spans)!;
        Assert.Equal(SenderSpanId, post.ParentSpanId);
        Assert.Single(spans.Select(s => s.TraceId).Distinct());
        Assert.Equal(post.SpanId, deliver.ParentSpanId);
        Assert.Equal(deliver.SpanId, process.ParentSpanId);
        Assert.Equal(process.SpanId, TargetPost(spans)!.ParentSpanId);
        Assert.Equal(deliver.SpanId, Ack(spans)!.ParentSpanId);
        // Publish hangs below ingress's POST through ingress's own spans (its publish span and gRPC client call).
        var hop = Publish(spans)!;
        var depth = 0;
        while (hop.SpanId != post.SpanId && depth++ < 5)
        {
            hop = Assert.Single(spans, s => s.SpanId == hop.ParentSpanId);
        }

        Assert.Equal(post.SpanId, hop.SpanId);
    }

    private static DashboardSpan? IngressPost(List<DashboardSpan> spans) =>
        spans.FirstOrDefault(s => s.Service == "ingress" && s.Kind == DashboardSpan.Server && s.Attributes.GetValueOrDefault("url.path") == "/webhook/demo");

    private static DashboardSpan? Publish(List<DashboardSpan> spans) =>
        spans.FirstOrDefault(s => s.Service == "queue-manager" && s.Kind == DashboardSpan.Server && s.Name.Contains("PublishService/Publish", StringComparison.Ordinal));

    private static DashboardSpan? Deliver(List<DashboardSpan> spans) =>
        spans.FirstOrDefault(s => s.Service == "queue-manager" && s.Kind == DashboardSpan.Producer && s.Name == "deliver demo");

    private static DashboardSpan? Process(List<DashboardSpan> spans) =>
        spans.FirstOrDefault(s => s.Service == "connector" && s.Kind == DashboardSpan.Consumer && s.Name == "process demo");

    private static DashboardSpan? TargetPost(List<DashboardSpan> spans) =>
        spans.FirstOrDefault(s => s.Service == "connector" && s.Kind == DashboardSpan.Client && s.Attributes.GetValueOrDefault("http.request.method") == "POST");

    private static DashboardSpan? Ack(List<DashboardSpan> spans) =>
        spans.FirstOrDefault(s => s.Service == "queue-manager" && s.Name == "ack demo");
}
