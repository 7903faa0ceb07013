"""Care visit plans (定期探访): plans for vulnerable residents, the visits the tracking loop makes
of them, their outcomes, and the supervisors' coverage view."""
