public import Logging
public import Runner
public import ServiceLifecycle

extension Runner {
    /// Creates a runner that runs a swift-service-lifecycle `Service`, and whose stopper triggers
    /// that service's graceful shutdown.
    ///
    /// The service runs inside a `ServiceGroup` of its own, without signal handling, so that
    /// everything the service awaits works as under any `ServiceGroup`: `gracefulShutdown()`,
    /// `withGracefulShutdownHandler`, `cancelWhenGracefulShutdown`. When the runner is
    /// interrupted, its timeout starts and the graceful shutdown is triggered; the service then
    /// has the runner's interrupt duration to return. What `run()` throws becomes the result's
    /// error, and a service that returns by itself gives a result without an error.
    ///
    /// - Parameters:
    ///   - id: The name the result carries; by default the service's type name. Within a group
    ///     it must be unique, so pass one when a group runs two services of the same type.
    ///   - service: The service to run. It is run once, like every runner's task.
    ///   - interruptDuration: How long the service has to return once its graceful shutdown was
    ///     triggered.
    ///   - logger: Where the `ServiceGroup` around the service logs; by default nowhere.
    public convenience init(
        id: String? = nil,
        service: some Service,
        interruptDuration: Duration = Runner.defaultInterruptDuration,
        logger: Logger = Logger(label: "runner", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        let id = id ?? String(describing: type(of: service))
        let host = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                // Returning is how a service finishes by itself, not a failure: the group of
                // one then just ends, and the runner reports a result without an error.
                .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: id),
            ],
            logger: logger
        ))
        self.init(
            id: id,
            interruptDuration: interruptDuration,
            task: { try await host.run() },
            stopper: { await host.triggerGracefulShutdown() }
        )
    }
}
