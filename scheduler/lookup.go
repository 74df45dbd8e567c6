package scheduler

import "github.com/renderswarm/renderswarm/job"

// LeaseTask returns the task an open lease is for, so the publisher can
// check a delivered image's size before handing it to Deliver.
func (c *Coordinator) LeaseTask(leaseID string) (job.Task, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.leases[leaseID]
	if !ok {
		return job.Task{}, false
	}
	return c.tasks[r.task].t, true
}
