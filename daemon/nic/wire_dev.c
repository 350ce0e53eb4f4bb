// SPDX-License-Identifier: MIT
/*
 * A device's wire and the NIC: made when a device bound to an interface
 * gets its addresses, rebound when they change, freed with the device.
 * The engine sends and receives through it by its wire transport
 * (wire_xport.c), attached here once the wire exists.
 */
#include "svd.h"
#include "wire.h"

int wire_port_changed(struct svd_device *dev)
{
	int ret;

	if (!dev->port.netdev[0])
		return 0; /* the default device keeps the same-host path */
	if (!dev->wire) {
		dev->wire = wire_create(dev);
		if (!dev->wire)
			return -ENOMEM;
	}
	ret = wire_sync_addrs(dev->wire);
	if (ret >= 0)
		ret = wire_xport_attach(dev, dev->wire);
	return ret < 0 ? ret : 0;
}

void wire_port_gone(struct svd_device *dev)
{
	wire_destroy(dev->wire);
	dev->wire = NULL;
}
