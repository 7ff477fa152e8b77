using WebhookConnect.Connector;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.ServiceDefaults;

return ConnectorCommandLine.Run(args, layers => ServiceEntryPoint.Run(() =>
{
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
    builder.UseConnectorConfiguration(layers);
    builder.AddServiceDefaults(new ServiceDefaultsSettings("connector", DefaultManagementPort: 9093));
    builder.AddConnector();

    var app = builder.Build();
    app.MapServiceDefaults();
    app.Run();
}));
