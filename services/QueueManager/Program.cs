using WebhookConnect.QueueManager;
using WebhookConnect.ServiceDefaults;

return ServiceEntryPoint.Run(() =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults(new ServiceDefaultsSettings("queue-manager", DefaultManagementPort: 9091));
    builder.AddQueueManager();

    var app = builder.Build();
    app.MapServiceDefaults();
    app.MapQueueManager();
    app.Run();
});
