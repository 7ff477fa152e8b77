using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using WebhookConnect.Grpc.Server;
using WebhookConnect.Grpc.StandardServices.Health;
using WebhookConnect.Grpc.StandardServices.Reflection;

namespace WebhookConnect.Grpc.StandardServices;

public static class StandardServicesExtensions
{
    /// <summary>Adds grpc.health.v1.Health; resolve <see cref="HealthService"/> to report per-service status.</summary>
    public static IServiceCollection AddGrpcHealth(this IServiceCollection services)
    {
        services.TryAddSingleton<HealthService>();
        services.AddHostedService<HealthLifecycle>();
        return services;
    }

    /// <summary>Adds server reflection (grpc.reflection.v1 and v1alpha), which grpcurl needs.</summary>
    public static IServiceCollection AddGrpcReflection(this IServiceCollection services)
    {
        services.TryAddSingleton<ReflectionServiceV1>();
        services.TryAddSingleton<ReflectionServiceV1Alpha>();
        return services;
    }

    public static IEndpointConventionBuilder MapGrpcHealthService(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGrpcService<HealthService>();

    /// <summary>Maps both reflection versions; map it after (or before) the services it describes, either works.</summary>
    public static IEndpointRouteBuilder MapGrpcReflectionService(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<ReflectionServiceV1>();
        endpoints.MapGrpcService<ReflectionServiceV1Alpha>();
        return endpoints;
    }
}
