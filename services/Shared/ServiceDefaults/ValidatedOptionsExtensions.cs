using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using WebhookConnect.ServiceDefaults.Configuration;

namespace WebhookConnect.ServiceDefaults;

/// <summary>Options bound from one configuration section and validated before the host starts.</summary>
public static class ValidatedOptionsExtensions
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to <paramref name="sectionName"/>, validates it with DataAnnotations
    /// (and <see cref="System.ComponentModel.DataAnnotations.IValidatableObject"/>) at start-up, and fails start-up with
    /// <see cref="OptionsValidationException"/> whose message reads
    /// <c>Invalid configuration: QueueManager:MaxMessageBytes = '-5': must be between 1 and 16777216.</c>
    /// A value the binder cannot convert ("abc" for an int) fails the same way.
    /// </summary>
    /// <remarks>
    /// Defaults belong in the options class's property initialisers. Mark secrets with
    /// <c>[DataType(DataType.Password)]</c> so failures show <c>'***'</c> instead of the value.
    /// </remarks>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(
        this IServiceCollection services, IConfiguration configuration, string sectionName)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentException.ThrowIfNullOrEmpty(sectionName);

        var section = configuration.GetSection(sectionName);
        var builder = services.AddOptions<TOptions>();
        services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(
            new ConfigurationChangeTokenSource<TOptions>(Options.DefaultName, section));
        services.AddSingleton<IConfigureOptions<TOptions>>(new ConfigurationBinding<TOptions>(section));
        services.AddSingleton<IValidateOptions<TOptions>>(new ConfigurationKeyValidator<TOptions>(section));
        return builder.ValidateOnStart();
    }
}
