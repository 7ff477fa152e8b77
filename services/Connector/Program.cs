using WebhookConnect.Connector;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.ServiceDefaults;

return ConnectorCommandLine.Run(args, launch => ServiceEntryPoint.Run(() =>
{
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
    builder.UseConnectorConfiguration(launch.Layers);
    builder.AddServiceDefaults(ConnectorExtensions.ServiceDefaults(builder.Configuration));
    builder.AddConnector();

    var app = builder.Build();
    if (launch.CheckOnly)
    {
        app.PrintEffectiveConfiguration(Console.Out);
        return;
    }

    app.MapServiceDefaults();
    app.Run();
}));
