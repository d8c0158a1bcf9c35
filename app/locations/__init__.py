"""Where parcels can go: service points near an address (`/v1/service-points`) and address validation (`/v1/addresses/validate`)."""
