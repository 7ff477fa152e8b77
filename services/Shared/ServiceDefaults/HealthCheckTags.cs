namespace WebhookConnect.ServiceDefaults;

/// <summary>
/// Tags that decide which endpoint runs a health check:
/// <c>builder.Services.AddHealthChecks().AddCheck&lt;RedisCheck&gt;("redis", tags: [HealthCheckTags.Ready]);</c>
/// </summary>
public static class HealthCheckTags
{
    /// <summary>Checked by <c>/healthz</c>. A failing liveness check gets the pod restarted, so keep these to
    /// "this process is wedged", never a dependency's health.</summary>
    public const string Live = "live";

    /// <summary>Checked by <c>/readyz</c>: dependencies the service needs before it should receive traffic.</summary>
    public const string Ready = "ready";
}
